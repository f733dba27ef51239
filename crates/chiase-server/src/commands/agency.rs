//! `chiase agency list|show|add|rename|merge|dissolve|contact`.

use chiase_core::agency::{AgencyKind, AgencyStatus, FocalContact};
use chiase_store::agencies::{AgencyFilter, NewAgency};

use super::{audit_cli, cli_date, explain, open_store};
use crate::cli::{AgencyCommand, ContactArgs};
use crate::config::Config;

fn contact(c: &ContactArgs) -> anyhow::Result<FocalContact> {
    FocalContact::parse(c.contact_name.as_deref(), c.contact_position.as_deref(), c.contact_phone.as_deref(), c.contact_email.as_deref())
        .map_err(|e| anyhow::anyhow!("{}", e.msg()))
}

pub async fn run(cfg: Config, cmd: AgencyCommand) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    match cmd {
        AgencyCommand::List { status } => {
            let status = status
                .map(|s| s.parse::<AgencyStatus>().map_err(|s| anyhow::anyhow!("trạng thái không hợp lệ / invalid status «{s}»")))
                .transpose()?;
            for a in store.agencies(&AgencyFilter { status, q: None }).await.map_err(explain)? {
                println!("{:<48} {:<10} {:>3} CSDL  {}", a.id, a.status, a.database_count, a.name);
            }
        }
        AgencyCommand::Show { id } => {
            let d = store
                .agency(&id)
                .await
                .map_err(explain)?
                .ok_or_else(|| anyhow::anyhow!("không tìm thấy cơ quan / agency not found: {id}"))?;
            println!("{}", serde_json::to_string_pretty(&d)?);
        }
        AgencyCommand::Add { name, kind, established, contact: c } => {
            let kind = kind
                .map(|k| k.parse::<AgencyKind>().map_err(|k| anyhow::anyhow!("loại cơ quan không hợp lệ / invalid kind «{k}»")))
                .transpose()?;
            let established_on = established.as_deref().map(cli_date).transpose()?;
            let r = store.create_agency(&NewAgency { name, kind, established_on, contact: contact(&c)? }).await.map_err(explain)?;
            audit_cli(&store, "agency_created", &r.id, serde_json::json!({ "name": r.name })).await?;
            println!("{}  {}", r.id, r.name);
        }
        AgencyCommand::Rename { id, new_name, on } => {
            let r = store.rename_agency(&id, &new_name, cli_date(&on)?).await.map_err(explain)?;
            audit_cli(&store, "agency_rename", &id, serde_json::json!({ "on": on, "name": r.name })).await?;
            println!("{}  {}", r.id, r.name);
        }
        AgencyCommand::Merge { id, into, on } => {
            let s = store.merge_agency(&id, &into, cli_date(&on)?).await.map_err(explain)?;
            audit_cli(&store, "agency_merge", &id, serde_json::json!({ "on": on, "into": into, "databases_moved": s.databases_moved }))
                .await?;
            println!(
                "{} → {}: {} CSDL chuyển / databases moved",
                s.agency.name,
                s.successor.map(|a| a.name).unwrap_or_default(),
                s.databases_moved
            );
        }
        AgencyCommand::Dissolve { id, on, transfer_to } => {
            let s = store.dissolve_agency(&id, transfer_to.as_deref(), cli_date(&on)?).await.map_err(explain)?;
            audit_cli(
                &store,
                "agency_dissolve",
                &id,
                serde_json::json!({ "on": on, "transfer_to": transfer_to, "databases_moved": s.databases_moved }),
            )
            .await?;
            println!("{}: giải thể / dissolved, {} CSDL chuyển / databases moved", s.agency.name, s.databases_moved);
        }
        AgencyCommand::Contact { id, contact: c } => {
            let c = contact(&c)?;
            store.set_agency_contact(&id, &c).await.map_err(explain)?;
            audit_cli(&store, "agency_contact", &id, serde_json::json!({ "contact": c })).await?;
            println!("ok");
        }
    }
    Ok(())
}

//! `chiase agency list|show|add|rename|merge|dissolve|contact`.

use chiase_core::agency::{AgencyKind, AgencyStatus, FocalContact};
use chiase_store::agencies::{AgencyFilter, NewAgency};

use super::{cli_date, context, explain, said};
use crate::cli::{AgencyCommand, ContactArgs};
use crate::config::Config;
use crate::outln;
use crate::usecase::agencies;

fn contact(c: &ContactArgs) -> anyhow::Result<FocalContact> {
    FocalContact::parse(c.contact_name.as_deref(), c.contact_position.as_deref(), c.contact_phone.as_deref(), c.contact_email.as_deref())
        .map_err(|e| anyhow::anyhow!("{}", e.msg()))
}

pub async fn run(cfg: Config, cmd: AgencyCommand) -> anyhow::Result<()> {
    let (app, op) = context(cfg).await?;
    let store = app.store.clone();
    match cmd {
        AgencyCommand::List { status } => {
            let status = status
                .map(|s| s.parse::<AgencyStatus>().map_err(|s| anyhow::anyhow!("trạng thái không hợp lệ / invalid status «{s}»")))
                .transpose()?;
            for a in store.agencies(&AgencyFilter { status, q: None }).await.map_err(explain)? {
                outln!("{:<48} {:<10} {:>3} CSDL  {}", a.id, a.status, a.database_count, a.name)?;
            }
        }
        AgencyCommand::Show { id } => {
            let d = store
                .agency(&id)
                .await
                .map_err(explain)?
                .ok_or_else(|| anyhow::anyhow!("không tìm thấy cơ quan / agency not found: {id}"))?;
            outln!("{}", serde_json::to_string_pretty(&d)?)?;
        }
        AgencyCommand::Add { name, kind, established, contact: c } => {
            let kind = kind
                .map(|k| k.parse::<AgencyKind>().map_err(|k| anyhow::anyhow!("loại cơ quan không hợp lệ / invalid kind «{k}»")))
                .transpose()?;
            let established_on = established.as_deref().map(cli_date).transpose()?;
            let r = agencies::create(&app, &op, NewAgency { name, kind, established_on, contact: contact(&c)? }).await.map_err(said)?;
            outln!("{}  {}", r.id, r.name)?;
        }
        AgencyCommand::Rename { id, new_name, on } => {
            let r = agencies::rename(&app, &op, &id, &new_name, cli_date(&on)?).await.map_err(said)?;
            outln!("{}  {}", r.id, r.name)?;
        }
        AgencyCommand::Merge { id, into, on } => {
            let s = agencies::merge(&app, &op, &id, &into, cli_date(&on)?).await.map_err(said)?;
            outln!(
                "{} → {}: {} CSDL chuyển / databases moved; {} tài khoản chuyển / accounts moved, {} tạm khóa / suspended",
                s.agency.name,
                s.successor.map(|a| a.name).unwrap_or_default(),
                s.databases_moved,
                s.users_moved,
                s.users_suspended
            )?;
        }
        AgencyCommand::Dissolve { id, on, transfer_to } => {
            let s = agencies::dissolve(&app, &op, &id, transfer_to.as_deref(), cli_date(&on)?).await.map_err(said)?;
            outln!(
                "{}: giải thể / dissolved, {} CSDL chuyển / databases moved, {} tài khoản tạm khóa / accounts suspended",
                s.agency.name,
                s.databases_moved,
                s.users_suspended
            )?;
        }
        AgencyCommand::Contact { id, contact: c } => {
            agencies::set_contact(&app, &op, &id, &contact(&c)?).await.map_err(said)?;
            outln!("ok")?;
        }
    }
    Ok(())
}

//! `chiase user …`, `chiase token …`, `chiase audit …`.

use std::io::BufRead;

use chiase_core::Msg;
use chiase_core::policy::Role;
use chiase_store::audit::{AuditFilter, VerifyOptions};
use chiase_store::audit_anchor::{CheckpointOutcome, head_missing};
use chiase_store::users::NewUser;

use super::{audit_cli, explain, open_store};
use crate::audit_anchor::parse_expect_head;
use crate::cli::{AuditCommand, TokenCommand, UserCommand};
use crate::config::Config;

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        anyhow::bail!("không đọc được mật khẩu từ đầu vào / no password on standard input");
    }
    Ok(p)
}

pub async fn user(cfg: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    match cmd {
        UserCommand::Add { username, agency, role, display_name, password_stdin } => {
            let role: Role =
                role.parse().map_err(|r| anyhow::anyhow!("vai trò không hợp lệ / invalid role «{r}» (admin, steward, member)"))?;
            let password = if password_stdin { Some(read_password()?) } else { None };
            let u = store.create_user(&NewUser { username, display_name, agency, role, password }).await.map_err(explain)?;
            audit_cli(&store, "user_created", &u.username, serde_json::json!({ "role": u.role, "agency": u.agency })).await?;
            println!("{}  {}  {}", u.username, u.role.code(), u.agency.map(|a| a.name).unwrap_or_default());
        }
        UserCommand::List => {
            for u in store.users().await.map_err(explain)? {
                println!("{:<24} {:<8} {:<9} {}", u.username, u.role.code(), u.status, u.agency.map(|a| a.id).unwrap_or_default());
            }
        }
        UserCommand::Passwd { username } => {
            store.set_password(&username, &read_password()?).await.map_err(explain)?;
            audit_cli(&store, "password_set", &username, serde_json::json!({})).await?;
            println!("ok");
        }
    }
    Ok(())
}

pub async fn token(cfg: Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    match cmd {
        TokenCommand::Create { username, name, expires } => {
            let (info, token) = store.create_token(&username, &name, expires).await.map_err(explain)?;
            audit_cli(&store, "token_created", &username, serde_json::json!({ "token": info.id, "prefix": info.prefix })).await?;
            println!("{token}");
        }
        TokenCommand::List { username } => {
            for t in store.tokens(&username).await.map_err(explain)? {
                println!(
                    "{:>5}  {:<16} {}…  created {}  expires {}  {}",
                    t.id,
                    t.name,
                    t.prefix,
                    t.created_at.format("%d/%m/%Y"),
                    t.expires_at.map(|e| e.format("%d/%m/%Y").to_string()).unwrap_or_else(|| "never".into()),
                    if t.revoked_at.is_some() { "revoked" } else { "" }
                );
            }
        }
        TokenCommand::Revoke { id } => {
            store.revoke_token(id, None).await.map_err(explain)?;
            audit_cli(&store, "token_revoked", &format!("token:{id}"), serde_json::json!({})).await?;
            println!("ok");
        }
    }
    Ok(())
}

/// The audit log failed verification. `main` prints it and exits 1: the
/// commands return it rather than end the process themselves.
#[derive(Debug, thiserror::Error)]
#[error("NHẬT KÝ BỊ THAY ĐỔI / AUDIT LOG TAMPERED{}: {msg}", at.map(|s| format!(" (sự kiện / event {s})")).unwrap_or_default())]
pub struct Tampered {
    /// The first event at fault, when one can be named.
    pub at: Option<i64>,
    pub msg: Msg,
}

pub async fn audit(cfg: Config, cmd: AuditCommand) -> anyhow::Result<()> {
    let store = open_store(&cfg).await?;
    match cmd {
        AuditCommand::Verify { expect_head } => {
            let expect_head = expect_head.map(|s| parse_expect_head(&s)).transpose().map_err(|m| anyhow::anyhow!("{m}"))?;
            let anchor = crate::audit_anchor::open(&cfg)?;
            let v = store.verify_audit_with(&VerifyOptions { anchor: anchor.as_ref(), expect_head }).await.map_err(explain)?;
            println!("{} / {}", v.note_vi, v.note);
            if !v.ok {
                let msg = Msg::new(v.problem_vi.unwrap_or_default(), v.problem.unwrap_or_default());
                return Err(Tampered { at: v.first_bad, msg }.into());
            }
            let head = format!("{} {}…", v.head_seq, v.head_hash.get(..16).unwrap_or(&v.head_hash));
            println!(
                "Chuỗi nhật ký nguyên vẹn: {} sự kiện, đầu chuỗi {head} / The audit chain is intact: {} events, head {head}",
                v.events, v.events
            );
            Ok(())
        }
        AuditCommand::Head { json } => {
            let Some((seq, hash)) = store.audit_head().await.map_err(explain)? else {
                return Err(Tampered { at: None, msg: head_missing() }.into());
            };
            if json {
                println!("{}", serde_json::json!({ "seq": seq, "hash": hash }));
            } else {
                println!("{seq} {hash}");
            }
            Ok(())
        }
        AuditCommand::Checkpoint => {
            let Some(anchor) = crate::audit_anchor::open(&cfg)? else {
                let path = crate::audit_anchor::key_path(&cfg);
                anyhow::bail!(
                    "chưa có khoá mốc nhật ký tại {} (chiase serve tạo khoá khi khởi động lần đầu) / no audit anchor key at {} (chiase serve creates it on first start)",
                    path.display(),
                    path.display()
                );
            };
            match store.checkpoint_audit(&anchor, false).await.map_err(explain)? {
                CheckpointOutcome::Written(cp) | CheckpointOutcome::Unchanged(cp) => {
                    println!("Đã ký đầu chuỗi / signed the head: {} {} ({})", cp.seq, cp.hash, cp.at);
                    Ok(())
                }
                CheckpointOutcome::Empty => {
                    println!("Nhật ký chưa có sự kiện nào: không có gì để ký / the audit log has no event yet: nothing to sign");
                    Ok(())
                }
                CheckpointOutcome::Refused(msg) => Err(Tampered { at: None, msg }.into()),
            }
        }
        AuditCommand::Export { format, after } => {
            let mut after = after;
            let mut wrote_header = false;
            loop {
                let events =
                    store.audit_events(&AuditFilter { after_seq: after, limit: 10_000, ..Default::default() }).await.map_err(explain)?;
                if events.is_empty() {
                    return Ok(());
                }
                match format.as_str() {
                    "ndjson" => {
                        for e in &events {
                            println!("{}", serde_json::to_string(e)?);
                        }
                    }
                    "csv" => {
                        let mut w = csv::WriterBuilder::new().has_headers(!wrote_header).from_writer(std::io::stdout());
                        for e in &events {
                            w.serialize(e)?;
                        }
                        wrote_header = true;
                    }
                    f => anyhow::bail!("định dạng không hỗ trợ / unsupported format «{f}» (ndjson, csv)"),
                }
                after = events.last().map(|e| e.seq).unwrap_or(after);
            }
        }
    }
}

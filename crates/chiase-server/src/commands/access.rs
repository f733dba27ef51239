//! `chiase user …`, `chiase token …`, `chiase audit …`: the operator's
//! side of accounts and the audit log, through the same use cases as the
//! API.

use std::io::BufRead;

use chiase_core::ids::TokenId;
use chiase_core::policy::Role;
use chiase_io::writers::{CsvOptions, StringCsv};
use chiase_store::audit::AuditFilter;
use chiase_store::audit_anchor::{CheckpointOutcome, head_missing};
use chiase_store::users::NewUser;

use super::{Exit, context, said};
use crate::audit_anchor::parse_expect_head;
use crate::cli::{AuditCommand, TokenCommand, UserCommand};
use crate::config::Config;
use crate::outln;
use crate::usecase::{accounts, audit};

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let p = line.trim_end_matches(['\n', '\r']).to_string();
    if p.trim().is_empty() {
        anyhow::bail!("không đọc được mật khẩu từ đầu vào / no password on standard input");
    }
    Ok(p)
}

fn role(r: &str) -> anyhow::Result<Role> {
    r.parse().map_err(|r| anyhow::anyhow!("vai trò không hợp lệ / invalid role «{r}» (admin, steward, member)"))
}

pub async fn user(cfg: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let (app, op) = context(cfg).await?;
    match cmd {
        UserCommand::Add { username, agency, role: r, display_name, password_stdin, email } => {
            let password = if password_stdin { Some(read_password()?) } else { None };
            let u = accounts::create_user(&app, &op, NewUser { username, display_name, agency, role: role(&r)?, password, email })
                .await
                .map_err(said)?;
            outln!("{}  {}  {}", u.username, u.role.code(), u.agency.map(|a| a.name).unwrap_or_default())?;
        }
        UserCommand::List => {
            for u in accounts::users(&app, &op).await.map_err(said)? {
                let agency = u.agency.as_ref().map(|a| a.id.clone()).unwrap_or_default();
                let ended = if u.agency.is_some() && !u.agency_active { " (cơ quan đã kết thúc / agency ended)" } else { "" };
                outln!("{:<24} {:<8} {:<9} {agency}{ended}", u.username, u.role.code(), u.status)?;
            }
        }
        UserCommand::Email { username, address } => {
            let u = accounts::set_email(&app, &op, &username, address.as_deref()).await.map_err(said)?;
            outln!("{}: {}", u.username, u.email.as_deref().unwrap_or("— (chỉ thông báo trên cổng / portal only)"))?;
        }
        UserCommand::Passwd { username } => {
            accounts::set_password(&app, &op, &username, &read_password()?).await.map_err(said)?;
            outln!("ok")?;
        }
        UserCommand::Disable { username } => {
            let u = accounts::set_enabled(&app, &op, &username, false).await.map_err(said)?;
            outln!("{}: {} (phiên và mã truy cập đã chấm dứt / sessions and tokens ended)", u.username, u.status)?;
        }
        UserCommand::Enable { username } => {
            let u = accounts::set_enabled(&app, &op, &username, true).await.map_err(said)?;
            outln!("{}: {}", u.username, u.status)?;
        }
        UserCommand::Move { username, agency, no_agency, role: r } => {
            if agency.is_some() == no_agency {
                anyhow::bail!("cần đúng một trong --agency hoặc --no-agency / give exactly one of --agency or --no-agency");
            }
            let r = r.as_deref().map(role).transpose()?;
            let u = accounts::move_user(&app, &op, &username, agency.as_deref(), r).await.map_err(said)?;
            outln!(
                "{} → {} ({}); phiên và mã truy cập đã chấm dứt / sessions and tokens ended",
                u.username,
                u.agency.map(|a| a.name).unwrap_or_else(|| "—".into()),
                u.role.code()
            )?;
        }
    }
    Ok(())
}

pub async fn token(cfg: Config, cmd: TokenCommand) -> anyhow::Result<()> {
    let (app, op) = context(cfg).await?;
    match cmd {
        TokenCommand::Create { username, name, expires } => {
            let (_, token) = accounts::create_token(&app, &op, &username, &name, expires).await.map_err(said)?;
            outln!("{token}")?;
        }
        TokenCommand::List { username } => {
            for t in accounts::tokens(&app, &op, &username).await.map_err(said)? {
                outln!(
                    "{:>5}  {:<16} {}…  created {}  expires {}  {}",
                    t.id,
                    t.name,
                    t.prefix,
                    t.created_at.format("%d/%m/%Y"),
                    t.expires_at.map(|e| e.format("%d/%m/%Y").to_string()).unwrap_or_else(|| "never".into()),
                    if t.revoked_at.is_some() { "revoked" } else { "" }
                )?;
            }
        }
        TokenCommand::Revoke { id } => {
            accounts::revoke_token(&app, &op, TokenId(id)).await.map_err(said)?;
            outln!("ok")?;
        }
    }
    Ok(())
}

pub async fn audit(cfg: Config, cmd: AuditCommand) -> anyhow::Result<()> {
    let (app, op) = context(cfg).await?;
    match cmd {
        AuditCommand::Verify { expect_head } => {
            let expect_head = expect_head.map(|s| parse_expect_head(&s)).transpose().map_err(|m| anyhow::anyhow!("{m}"))?;
            let v = audit::verify(&app, &op, expect_head).await.map_err(said)?;
            outln!("{} / {}", v.note_vi, v.note)?;
            if !v.ok {
                eprintln!(
                    "NHẬT KÝ BỊ THAY ĐỔI{} / AUDIT LOG TAMPERED{}: {} / {}",
                    v.first_bad.map(|s| format!(" tại sự kiện {s}")).unwrap_or_default(),
                    v.first_bad.map(|s| format!(" at event {s}")).unwrap_or_default(),
                    v.problem_vi.unwrap_or_default(),
                    v.problem.unwrap_or_default()
                );
                return Err(Exit(1).into());
            }
            let head = format!("{} {}…", v.head_seq, v.head_hash.get(..16).unwrap_or(&v.head_hash));
            outln!(
                "Chuỗi nhật ký nguyên vẹn: {} sự kiện, đầu chuỗi {head} / The audit chain is intact: {} events, head {head}",
                v.events,
                v.events
            )?;
            Ok(())
        }
        AuditCommand::Head { json } => {
            let Some((seq, hash)) = audit::head(&app, &op).await.map_err(said)? else {
                let m = head_missing();
                eprintln!("NHẬT KÝ BỊ THAY ĐỔI / AUDIT LOG TAMPERED: {} / {}", m.vi, m.en);
                return Err(Exit(1).into());
            };
            if json {
                outln!("{}", serde_json::json!({ "seq": seq, "hash": hash }))?;
            } else {
                outln!("{seq} {hash}")?;
            }
            Ok(())
        }
        AuditCommand::Checkpoint => match audit::checkpoint(&app, &op).await.map_err(said)? {
            None => {
                let path = crate::audit_anchor::key_path(&app.config);
                anyhow::bail!(
                    "chưa có khoá mốc nhật ký tại {} (chiase serve tạo khoá khi khởi động lần đầu) / no audit anchor key at {} (chiase serve creates it on first start)",
                    path.display(),
                    path.display()
                )
            }
            Some(CheckpointOutcome::Written(cp) | CheckpointOutcome::Unchanged(cp)) => {
                outln!("Đã ký đầu chuỗi / signed the head: {} {} ({})", cp.seq, cp.hash, cp.at)?;
                Ok(())
            }
            Some(CheckpointOutcome::Empty) => {
                outln!("Nhật ký chưa có sự kiện nào: không có gì để ký / the audit log has no event yet: nothing to sign")?;
                Ok(())
            }
            Some(CheckpointOutcome::Refused(m)) => {
                eprintln!("NHẬT KÝ BỊ THAY ĐỔI / AUDIT LOG TAMPERED: {} / {}", m.vi, m.en);
                Err(Exit(1).into())
            }
        },
        AuditCommand::Export { format, after, escape_formulas } => {
            if !matches!(format.as_str(), "ndjson" | "csv") {
                anyhow::bail!("định dạng không hỗ trợ / unsupported format «{format}» (ndjson, csv)");
            }
            let mut after = after;
            let mut csv = StringCsv::new(CsvOptions { bom: false, escape_formulas });
            loop {
                let filter = AuditFilter { after_seq: after, limit: 10_000, ..Default::default() };
                let events = audit::events(&app, &op, &filter).await.map_err(said)?;
                let Some(last) = events.last() else { return Ok(()) };
                after = last.seq;
                let mut out = Vec::new();
                for e in &events {
                    if format == "ndjson" {
                        serde_json::to_writer(&mut out, e)?;
                        out.push(b'\n');
                    } else {
                        csv.serialized(&mut out, e).map_err(|e| anyhow::anyhow!("{}", e.msg))?;
                    }
                }
                use std::io::Write;
                std::io::stdout().lock().write_all(&out)?;
            }
        }
    }
}

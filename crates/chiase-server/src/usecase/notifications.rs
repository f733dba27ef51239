//! Notifications (issue 11, item 6): who is told what about a sharing
//! request, in the portal (`/notifications`, a count in every page's
//! header) and, when `smtp_url` is set, by e-mail.
//!
//! | what happened                               | who is told                    |
//! |---------------------------------------------|--------------------------------|
//! | a request was filed                         | the owner agency's stewards    |
//! | it was approved or refused                  | the officer who filed it       |
//! | a pending request's deadline is 2 days away | the owner agency's stewards    |
//! | a pending request's deadline has passed     | the owner agency's stewards    |
//! | a grant ends within 7 days                  | the officer who filed it       |
//!
//! Filing and deciding tell at once (after the request's own change has
//! committed and been audited; a notification that fails is logged and
//! never fails the request). Deadlines and grant ends are found by
//! [`scan`], which `serve` runs every minute under a lease, so that with
//! several processes on one database one of them does it; the store's
//! unique key tells each person each thing once however often it runs.
//!
//! E-mail goes out off the request path: a task spawned after a
//! notification is added, and the scan, which retries what failed (with a
//! growing back-off, up to `MAX_EMAIL_TRIES` attempts). Only notifications
//! of the last [`MAIL_WINDOW_DAYS`] days that are still unread are mailed.
//! The SMTP URL may hold a password: it is never logged, and neither are
//! lettre's errors about it beyond their kind.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use chiase_core::ids::RequestId;
use chiase_store::notifications::{Audience, Notification, NotificationKind};
use chiase_store::requests::SharingRequest;
use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;

/// A pending request's stewards are reminded this many days before its deadline.
pub const DEADLINE_NEAR_DAYS: i64 = 2;
/// A grant's holder is told this many days before it ends.
pub const GRANT_ENDING_DAYS: i64 = 7;
/// Older notifications are left to the portal (an address set, or a mail
/// server configured, later does not send a backlog).
pub const MAIL_WINDOW_DAYS: i64 = 3;
/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: StdDuration = StdDuration::from_secs(30);

/// After a request is filed: its owner agency's stewards are told.
pub async fn request_filed(app: &AppState, r: &SharingRequest) {
    notify(app, NotificationKind::RequestFiled, r.id, Audience::Stewards(r.owner_pk)).await;
}

/// After a request is approved or refused: the officer who filed it is told.
pub async fn request_decided(app: &AppState, r: &SharingRequest) {
    notify(app, NotificationKind::RequestDecided, r.id, Audience::User(r.requester_pk)).await;
}

/// Adds the notifications and starts mailing them; a failure is logged,
/// never returned (the request it is about has happened).
async fn notify(app: &AppState, kind: NotificationKind, request: RequestId, to: Audience) {
    match app.store.add_notifications(kind, request, to).await {
        Ok(added) if !added.is_empty() => spawn_mail(app),
        Ok(_) => {}
        Err(e) => tracing::warn!(kind = kind.code(), request = request.get(), "notification not recorded: {e}"),
    }
}

/// Mails what is waiting, in a task of its own (off the request path).
fn spawn_mail(app: &AppState) {
    if app.config.smtp_url.is_none() {
        return;
    }
    let app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = send_pending(&app).await {
            tracing::warn!("notification e-mails not sent: {}", e.msg.en);
        }
    });
}

/// What a scan did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanOutcome {
    /// Notifications added (deadlines near or passed, grants ending).
    pub added: usize,
    /// E-mails sent, and attempts that failed (retried later).
    pub mailed: usize,
    pub mail_failed: usize,
}

/// Finds pending requests whose deadline is near or passed and grants that
/// end soon, tells whom it concerns, then mails what is waiting.
pub async fn scan(app: &AppState) -> Result<ScanOutcome, ApiError> {
    let now = Utc::now();
    let due = app.store.due_requests(now + Duration::days(DEADLINE_NEAR_DAYS), now + Duration::days(GRANT_ENDING_DAYS)).await?;
    let mut out = ScanOutcome::default();
    for d in due {
        let (kind, to) = match d.status.as_str() {
            "pending" if d.deadline_at <= now => (NotificationKind::DeadlinePassed, Audience::Stewards(d.owner)),
            "pending" => (NotificationKind::DeadlineNear, Audience::Stewards(d.owner)),
            "approved" => (NotificationKind::GrantExpiring, Audience::User(d.requester)),
            _ => continue,
        };
        out.added += app.store.add_notifications(kind, d.request, to).await?.len();
    }
    let (mailed, failed) = send_pending(app).await?;
    out.mailed = mailed;
    out.mail_failed = failed;
    Ok(out)
}

/// Every minute, the process holding the `notifications` lease scans (see
/// [`scan`]); with several processes on one database, one of them does.
pub fn start_scans(app: AppState) {
    let holder =
        format!("{}:{}:{:x}", std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into()), std::process::id(), rand::random::<u32>());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(StdDuration::from_secs(60)).await;
            match app.store.take_lease("notifications", &holder, 120).await {
                Ok(true) => match scan(&app).await {
                    Ok(o) if o != ScanOutcome::default() => {
                        tracing::info!(added = o.added, mailed = o.mailed, mail_failed = o.mail_failed, "notifications")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("notification scan failed: {}", e.msg.en),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!("lease failed: {e}"),
            }
        }
    });
}

/// Checks the mail settings when the server starts: a URL lettre cannot
/// use, or a sender that is not an address, stops the start rather than
/// every e-mail later. The URL is not quoted (it may hold a password).
pub fn check_mail_config(cfg: &Config) -> anyhow::Result<()> {
    let Some(url) = &cfg.smtp_url else { return Ok(()) };
    transport(url).map_err(|e| anyhow::anyhow!("smtp_url không dùng được / smtp_url is not usable: {e}"))?;
    Mailbox::from_str(&cfg.mail_from)
        .map_err(|e| anyhow::anyhow!("mail_from không phải địa chỉ thư / mail_from is not an e-mail address («{}»): {e}", cfg.mail_from))?;
    Ok(())
}

fn transport(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?.timeout(Some(SMTP_TIMEOUT)).build())
}

/// Mails the notifications waiting (claimed first, so that no other sender
/// mails them too); returns how many were sent and how many failed.
pub async fn send_pending(app: &AppState) -> Result<(usize, usize), ApiError> {
    let Some(url) = &app.config.smtp_url else { return Ok((0, 0)) };
    let not_usable = |what: &str| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "mail_config",
            format!("cấu hình thư không dùng được ({what})"),
            format!("the mail settings are not usable ({what})"),
        )
    };
    let mailer = transport(url).map_err(|_| not_usable("smtp_url"))?;
    let from = Mailbox::from_str(&app.mail_from()).map_err(|_| not_usable("mail_from"))?;
    let domain = from.email.domain().to_string();
    let base = base_url(&app.config);
    let (mut sent, mut failed) = (0, 0);
    // A claim holds a notification for its back-off, so the loop ends.
    loop {
        let batch = app.store.claim_emails(Utc::now() - Duration::days(MAIL_WINDOW_DAYS), 20).await?;
        if batch.is_empty() {
            break;
        }
        for o in batch {
            let id = o.notification.id;
            let message = match message(&from, &domain, &base, app.site_name(), &o) {
                Ok(m) => m,
                Err(e) => {
                    // The address was accepted when it was set; a bad one is not retried for ever (the claim's back-off holds it).
                    tracing::warn!(notification = id, "notification e-mail not built: {e}");
                    failed += 1;
                    continue;
                }
            };
            match mailer.send(message).await {
                Ok(_) => {
                    app.store.email_sent(id).await?;
                    sent += 1;
                }
                Err(e) => {
                    tracing::warn!(notification = id, attempt = o.attempt, "notification e-mail not sent, will retry: {e}");
                    failed += 1;
                }
            }
        }
    }
    Ok((sent, failed))
}

/// Where links in e-mails point: the public address (`public_url`).
fn base_url(cfg: &Config) -> String {
    cfg.public_base()
}

/// Vietnam time (UTC+7, no summer time): notification dates are shown in it.
pub fn vietnam_date(t: DateTime<Utc>) -> NaiveDate {
    let vn = FixedOffset::east_opt(7 * 3600).expect("BUG: a valid offset");
    t.with_timezone(&vn).date_naive()
}

/// The last day of a grant (its end is exclusive: midnight after that day),
/// as the request pages show it.
fn last_day(t: DateTime<Utc>) -> NaiveDate {
    (t - Duration::seconds(1)).date_naive()
}

fn dmy(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// What a notification says, in Vietnamese and English: one sentence, for
/// the portal's list and the e-mail's subject and first line.
pub fn headline(n: &Notification) -> (String, String) {
    let (t, id) = (&n.dataset_title, n.request.get());
    let deadline = dmy(vietnam_date(n.deadline_at));
    match n.kind {
        NotificationKind::RequestFiled => (
            format!("Yêu cầu khai thác mới số {id}: {} đề nghị khai thác «{t}»; hạn trả lời {deadline}", n.agency),
            format!("New data request no. {id}: {} asks for «{t}»; answer by {deadline}", n.agency),
        ),
        NotificationKind::RequestDecided => match n.status.as_str() {
            "refused" => (
                format!("Yêu cầu khai thác «{t}» (số {id}) đã bị {} từ chối", n.owner),
                format!("Your request for «{t}» (no. {id}) was refused by {}", n.owner),
            ),
            _ => (
                format!("Yêu cầu khai thác «{t}» (số {id}) đã được {} phê duyệt", n.owner),
                format!("Your request for «{t}» (no. {id}) was approved by {}", n.owner),
            ),
        },
        NotificationKind::DeadlineNear => (
            format!("Yêu cầu khai thác «{t}» (số {id}) của {} sắp đến hạn trả lời: {deadline}", n.agency),
            format!("The request of {} for «{t}» (no. {id}) must be answered by {deadline}", n.agency),
        ),
        NotificationKind::DeadlinePassed => (
            format!("Yêu cầu khai thác «{t}» (số {id}) của {} đã quá hạn trả lời ({deadline})", n.agency),
            format!("The request of {} for «{t}» (no. {id}) is past its deadline ({deadline})", n.agency),
        ),
        NotificationKind::GrantExpiring => {
            let until = n.granted_to.map(|g| dmy(last_day(g))).unwrap_or_default();
            (
                format!("Quyền khai thác «{t}» (yêu cầu số {id}) sắp hết hạn: đến hết ngày {until}"),
                format!("Your access to «{t}» (request no. {id}) ends soon: its last day is {until}"),
            )
        }
    }
}

/// The e-mail of a notification: Vietnamese first, English below, the link
/// to the request's page.
fn message(
    from: &Mailbox,
    domain: &str,
    base: &str,
    site: &str,
    o: &chiase_store::notifications::Outgoing,
) -> Result<Message, Box<dyn std::error::Error + Send + Sync>> {
    let n = &o.notification;
    let (vi, en) = headline(n);
    let link = format!("{base}/requests/{}", n.request.get());
    let all = format!("{base}/notifications");
    let what_to_do = match n.kind {
        NotificationKind::RequestFiled | NotificationKind::DeadlineNear | NotificationKind::DeadlinePassed => (
            "Mở yêu cầu để phê duyệt hoặc từ chối (từ chối cần ghi lý do và căn cứ pháp lý):",
            "Open the request to approve or refuse it (a refusal needs its reasons and legal basis):",
        ),
        NotificationKind::RequestDecided => ("Xem quyết định:", "See the decision:"),
        NotificationKind::GrantExpiring => (
            "Nếu cơ quan còn cần dữ liệu, hãy gửi yêu cầu mới trước khi hết hạn:",
            "If your agency still needs the data, file a new request before then:",
        ),
    };
    let text = format!(
        "Kính gửi {name},\n\n{vi}.\n\n{todo_vi}\n{link}\n\nMọi thông báo của bạn: {all}\n\n-- \n{site}\nThư này được gửi tự động; vui lòng không trả lời.\n\n\
         ----------------------------------------\n\n\
         Dear {name},\n\n{en}.\n\n{todo_en}\n{link}\n\nAll your notifications: {all}\n\n-- \nThis message was sent automatically; please do not reply.\n",
        name = o.display_name,
        todo_vi = what_to_do.0,
        todo_en = what_to_do.1,
    );
    let to = Mailbox::new(Some(o.display_name.clone()), o.email.parse()?);
    let body = Body::new_with_encoding(text, ContentTransferEncoding::Base64).map_err(|_| "body")?;
    let subject = format!("[{site}] {}: «{}» / {}", subject_vi(n), n.dataset_title, subject_en(n.kind));
    Ok(Message::builder()
        .from(from.clone())
        .to(to)
        .subject(subject)
        .date_now()
        .message_id(Some(format!("<chiase.notification.{}.{:x}@{domain}>", n.id, rand::random::<u64>())))
        .header(ContentType::TEXT_PLAIN)
        .body(body)?)
}

/// The subject's Vietnamese half, before the dataset's title.
fn subject_vi(n: &Notification) -> &'static str {
    match n.kind {
        NotificationKind::RequestFiled => "Yêu cầu khai thác mới",
        NotificationKind::RequestDecided if n.status == "refused" => "Yêu cầu khai thác bị từ chối",
        NotificationKind::RequestDecided => "Yêu cầu khai thác đã được phê duyệt",
        NotificationKind::DeadlineNear => "Yêu cầu sắp đến hạn trả lời",
        NotificationKind::DeadlinePassed => "Yêu cầu đã quá hạn trả lời",
        NotificationKind::GrantExpiring => "Quyền khai thác sắp hết hạn",
    }
}

/// The subject's English half (the Vietnamese half names the dataset).
fn subject_en(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::RequestFiled => "New data request",
        NotificationKind::RequestDecided => "Your data request was decided",
        NotificationKind::DeadlineNear => "A data request's deadline is near",
        NotificationKind::DeadlinePassed => "A data request is overdue",
        NotificationKind::GrantExpiring => "Your data access ends soon",
    }
}

/// Checks an e-mail address given for an account (empty: none).
pub fn check_email(email: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(e) = email.map(str::trim).filter(|e| !e.is_empty()) else { return Ok(None) };
    if e.len() > 254 || lettre::Address::from_str(e).is_err() {
        return Err(chiase_core::DomainError::invalid(
            "email",
            chiase_core::Msg::new("địa chỉ thư điện tử không hợp lệ", "«email» is not a valid e-mail address"),
        )
        .into());
    }
    Ok(Some(e.to_string()))
}

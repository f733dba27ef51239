//! The HTTP client the OpenID client uses (openidconnect's
//! `AsyncHttpClient` is implemented for any `Fn(HttpRequest) -> Future`):
//! one request per connection, hyper's HTTP/1 client connection over a
//! tokio TCP stream, with TLS through tokio-rustls (ring, the webpki
//! roots) for `https`. Plain `http` is allowed only to a loopback address
//! (tests, a provider on the same machine), so that the client secret and
//! tokens never cross a network in clear. Redirects are not followed (as
//! openidconnect's documentation asks), bodies are bounded, and every
//! request has a deadline.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use openidconnect::http::{HeaderValue, Request, header};
use openidconnect::{HttpRequest, HttpResponse};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, pki_types::ServerName};

/// How long one exchange with the provider may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read (a discovery document or a key set is a few KB).
const MAX_BODY: usize = 1 << 20;

/// Why a request to the provider failed (never holds a request's body).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

fn fail(what: &str, e: impl std::fmt::Display) -> HttpError {
    HttpError(format!("{what}: {e}"))
}

/// Sends one request to the provider and reads its answer.
pub async fn send(request: HttpRequest) -> Result<HttpResponse, HttpError> {
    send_bounded(request, TIMEOUT, MAX_BODY).await
}

/// Sends one request and reads an answer of at most `max_body` bytes, all
/// within `timeout`.
pub async fn send_bounded(request: HttpRequest, timeout: Duration, max_body: usize) -> Result<HttpResponse, HttpError> {
    match tokio::time::timeout(timeout, exchange(request, max_body)).await {
        Ok(r) => r,
        Err(_) => Err(HttpError(format!("no answer within {} s", timeout.as_secs()))),
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn exchange(request: HttpRequest, max_body: usize) -> Result<HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let uri = parts.uri;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(HttpError(format!("not an http(s) URL: {uri}"))),
    };
    let authority = uri.authority().ok_or_else(|| HttpError(format!("no host in {uri}")))?.clone();
    let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_string();
    if !https && !is_loopback(&host) {
        return Err(HttpError(format!("plain http is refused except on loopback: {}", uri.host().unwrap_or(""))));
    }
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port)).await.map_err(|e| fail("cannot connect", e))?;
    let _ = tcp.set_nodelay(true);

    let mut out = Request::builder().method(parts.method).uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    if let Some(headers) = out.headers_mut() {
        *headers = parts.headers;
        let host_value = HeaderValue::from_str(authority.as_str()).map_err(|e| fail("host", e))?;
        headers.insert(header::HOST, host_value);
    }
    let out = out.body(Full::new(Bytes::from(body))).map_err(|e| fail("request", e))?;

    if https {
        let name = ServerName::try_from(host).map_err(|e| fail("server name", e))?;
        let tls = connector().connect(name, tcp).await.map_err(|e| fail("TLS", e))?;
        roundtrip(TokioIo::new(tls), out, max_body).await
    } else {
        roundtrip(TokioIo::new(tcp), out, max_body).await
    }
}

async fn roundtrip<T>(io: T, request: Request<Full<Bytes>>, max_body: usize) -> Result<HttpResponse, HttpError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| fail("HTTP", e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let response = sender.send_request(request).await.map_err(|e| fail("HTTP", e))?;
    let (parts, body) = response.into_parts();
    let bytes = Limited::new(body, max_body).collect().await.map_err(|e| fail("reading the answer", e))?.to_bytes();
    Ok(HttpResponse::from_parts(parts, bytes.to_vec()))
}

/// TLS with ring and the webpki roots (the same as sqlx and lettre here).
pub(crate) fn connector() -> &'static TlsConnector {
    static CONNECTOR: OnceLock<TlsConnector> = OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let config = ClientConfig::builder_with_provider(Arc::new(tokio_rustls::rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            .unwrap_or_else(|e| panic!("ring supports the default TLS versions: {e}"));
        TlsConnector::from(Arc::new(config))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn plain_http_goes_only_to_loopback() {
        let req = Request::builder().uri("http://sso.example.vn/.well-known/openid-configuration").body(Vec::new()).unwrap();
        let err = send(req).await.unwrap_err().to_string();
        assert!(err.contains("plain http is refused"), "{err}");
        assert!(is_loopback("127.0.0.1") && is_loopback("::1") && is_loopback("localhost") && !is_loopback("10.0.0.1"));
    }
}

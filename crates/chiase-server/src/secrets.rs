//! Secrets chiase keeps for others — the credentials services present to
//! their upstreams, and sync jobs to theirs — sealed with AES-256-GCM
//! (ring) under the installation's key, `service-secrets.key` in the data
//! directory (32 random bytes, made 0600 on first use; back it up with the
//! database: without it nothing sealed opens). Each sealed text is bound,
//! as associated data, to what it belongs to (a service's id; a job's
//! dataset and URL), so a sealed value moved elsewhere in the database
//! does not open.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

/// Why a secret could not be sealed or opened (never holds the secret).
#[derive(Debug)]
pub struct SecretError(pub String);

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(s: impl Into<String>) -> SecretError {
    SecretError(s.into())
}

/// The installation's key, by data directory (tests run several).
fn key_for(data_dir: &Path) -> Result<Arc<LessSafeKey>, SecretError> {
    static KEYS: OnceLock<Mutex<HashMap<PathBuf, Arc<LessSafeKey>>>> = OnceLock::new();
    let mut keys = KEYS.get_or_init(Default::default).lock().map_err(|_| err("the key cache is poisoned"))?;
    if let Some(k) = keys.get(data_dir) {
        return Ok(k.clone());
    }
    let path = data_dir.join("service-secrets.key");
    let read = || std::fs::read(&path).map_err(|e| err(format!("{}: {e}", path.display())));
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = vec![0u8; 32];
            SystemRandom::new().fill(&mut b).map_err(|_| err("no randomness for the key"))?;
            std::fs::create_dir_all(data_dir).map_err(|e| err(e.to_string()))?;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            match opts.open(&path) {
                Ok(mut f) => {
                    f.write_all(&b).and_then(|()| f.sync_all()).map_err(|e| err(format!("{}: {e}", path.display())))?;
                    b
                }
                // Another process made it meanwhile: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read()?,
                Err(e) => return Err(err(format!("{}: {e}", path.display()))),
            }
        }
        Err(e) => return Err(err(format!("{}: {e}", path.display()))),
    };
    let unbound = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| err(format!("{} is not a 32-byte key", path.display())))?;
    let key = Arc::new(LessSafeKey::new(unbound));
    keys.insert(data_dir.to_path_buf(), key.clone());
    Ok(key)
}

/// Seals `clear`, bound to `aad`: base64 of the nonce, then the sealed text.
pub fn seal(data_dir: &Path, aad: &str, clear: &str) -> Result<String, SecretError> {
    let key = key_for(data_dir)?;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| err("no randomness for a nonce"))?;
    let mut buf = clear.as_bytes().to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buf)
        .map_err(|_| err("sealing failed"))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(STANDARD.encode(out))
}

/// Opens what `seal` made for `aad`.
pub fn open(data_dir: &Path, aad: &str, sealed: &str) -> Result<String, SecretError> {
    let key = key_for(data_dir)?;
    let damaged = || err("a sealed secret is damaged");
    let raw = STANDARD.decode(sealed).map_err(|_| damaged())?;
    if raw.len() < NONCE_LEN {
        return Err(damaged());
    }
    let (nonce, sealed) = raw.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| damaged())?;
    let mut buf = sealed.to_vec();
    let clear = key
        .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
        .map_err(|_| err("a sealed secret does not open with this installation's key (service-secrets.key)"))?;
    String::from_utf8(clear.to_vec()).map_err(|_| damaged())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_open_only_for_what_they_are_bound_to_and_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let sealed = seal(dir.path(), "cong-dich-vu", "Authorization\nBearer bi-mat").unwrap();
        assert!(!sealed.contains("bi-mat"));
        assert_eq!(open(dir.path(), "cong-dich-vu", &sealed).unwrap(), "Authorization\nBearer bi-mat");
        assert!(open(dir.path(), "dich-vu-khac", &sealed).is_err());
        assert!(open(dir.path(), "cong-dich-vu", "khong-phai-base64!").is_err());
        let other = tempfile::tempdir().unwrap();
        assert!(open(other.path(), "cong-dich-vu", &sealed).is_err());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.path().join("service-secrets.key")).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

//! Character encodings of files people upload.
//!
//! Agencies' files come from Excel and old Windows tools: UTF-8 with or
//! without a byte-order mark, UTF-16 with a mark, and Windows-1258 (the
//! Vietnamese code page) among others. `encoding_rs` does the decoding; this
//! module only decides which encoding applies.

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

/// An encoding chosen for a file, and how it was chosen.
#[derive(Debug, Clone, Copy)]
pub struct Detected {
    pub encoding: &'static Encoding,
    /// Bytes of byte-order mark to skip at the start.
    pub bom_len: usize,
}

/// Finds an encoding by a label people type ("utf-8", "windows-1258",
/// "cp1258", "utf-16le"...). Returns `None` for an unknown label.
pub fn by_label(label: &str) -> Option<&'static Encoding> {
    let l = label.trim().to_ascii_lowercase();
    let l = match l.as_str() {
        "cp1258" | "1258" | "vn" => "windows-1258",
        "cp1252" => "windows-1252",
        other => other,
    };
    Encoding::for_label(l.as_bytes())
}

/// Decides the encoding of a file from its first bytes: a byte-order mark
/// wins; otherwise the declared encoding; otherwise UTF-8.
pub fn detect(head: &[u8], declared: Option<&'static Encoding>) -> Detected {
    if let Some((enc, bom_len)) = Encoding::for_bom(head) {
        return Detected { encoding: enc, bom_len };
    }
    if let Some(enc) = declared {
        return Detected { encoding: enc, bom_len: 0 };
    }
    // UTF-16 without a mark: many NUL bytes in alternating positions.
    let sample = &head[..head.len().min(512)];
    if sample.len() >= 4 {
        let even_nuls = sample.iter().step_by(2).filter(|b| **b == 0).count();
        let odd_nuls = sample.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
        let half = sample.len() / 2;
        if odd_nuls * 3 > half * 2 {
            return Detected { encoding: UTF_16LE, bom_len: 0 };
        }
        if even_nuls * 3 > half * 2 {
            return Detected { encoding: UTF_16BE, bom_len: 0 };
        }
    }
    Detected { encoding: UTF_8, bom_len: 0 }
}

/// Decodes a whole (small) file. UTF-8 must be valid: a file that is not
/// is reported, never silently filled with replacement characters.
pub fn decode_all(bytes: &[u8], declared: Option<&'static Encoding>) -> Result<String, DecodeError> {
    let d = detect(bytes, declared);
    let body = &bytes[d.bom_len..];
    let (text, had_errors) = d.encoding.decode_without_bom_handling(body);
    if had_errors {
        let offset = if d.encoding == UTF_8 { std::str::from_utf8(body).err().map(|e| e.valid_up_to()).unwrap_or(0) } else { 0 };
        let line = 1 + body[..offset].iter().filter(|b| **b == b'\n').count();
        return Err(DecodeError { encoding: d.encoding.name(), line });
    }
    Ok(text.into_owned())
}

/// A file that is not valid text in the encoding chosen for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the file is not valid {encoding} (first bad byte on line {line})")]
pub struct DecodeError {
    pub encoding: &'static str,
    pub line: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_decides_the_encoding() {
        let utf8 = b"\xEF\xBB\xBFab";
        assert_eq!(decode_all(utf8, None).unwrap(), "ab");
        let mut with_bom = vec![0xFF, 0xFE];
        for u in "Đất".encode_utf16() {
            with_bom.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode_all(&with_bom, None).unwrap(), "Đất");
    }

    #[test]
    fn windows_1258_is_decoded_when_declared() {
        let bytes = b"\xD0\xE2t"; // Đ, â, t in Windows-1258
        let text = decode_all(bytes, by_label("cp1258")).unwrap();
        assert_eq!(text, "Đât");
    }

    #[test]
    fn invalid_utf8_is_an_error_with_its_line() {
        let err = decode_all(b"ok\nbad \xD0\xE2t\n", None).unwrap_err();
        assert_eq!(err.line, 2);
        assert_eq!(err.encoding, "UTF-8");
    }

    #[test]
    fn utf16_without_a_mark_is_recognised() {
        let mut bytes = vec![];
        for u in "TT,Tên".encode_utf16() {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(detect(&bytes, None).encoding, UTF_16LE);
    }
}

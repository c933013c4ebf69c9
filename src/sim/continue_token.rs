//! Opaque continue tokens for paginated lists.

use super::status::{ApiError, ApiResult};

/// Continue tokens are hex-encoded "rv|namespace|name" of the last item served.
pub fn encode_continue(rv: u64, namespace: &str, name: &str) -> String {
    format!("{rv}|{namespace}|{name}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn decode_continue(token: &str) -> ApiResult<(u64, String, String)> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    if !token.len().is_multiple_of(2) || !token.is_ascii() {
        return Err(bad());
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&token[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '|');
    let rv = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
    let ns = parts.next().ok_or_else(bad)?.to_string();
    let name = parts.next().ok_or_else(bad)?.to_string();
    Ok((rv, ns, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_rejected() {
        let token = encode_continue(42, "acme-web", "pod-a");
        let decoded = decode_continue(&token).expect("round trip");
        assert_eq!(decoded, (42, "acme-web".to_string(), "pod-a".to_string()));
        for bad in ["zz", "abc", "7c7c", "ü"] {
            assert_eq!(decode_continue(bad).unwrap_err().code, 400, "{bad}");
        }
    }
}

//! The JSON that server functions answer (values and [`AppError`]s), read in
//! the browser as text.
//!
//! The same bytes as server_fn's `Json`/`JsonEncoding` (`application/json`,
//! written by `serde_json::to_vec`), but decoded with `serde_json::from_str`,
//! the reader the islands' props already use: with `from_slice` the browser
//! bundle carried a second copy of serde_json's parser and of every answer's
//! deserializer (docs/BENCHMARKS.md, the WASM bundle).
//!
//! [`AppError`]: crate::error::AppError

use leptos::serde_json;
use leptos::server_fn::codec::Post;
use leptos::server_fn::{Bytes, ContentType, Decodes, Encodes, Format, FormatType};
use serde::de::{DeserializeOwned, Error as _};
use serde::Serialize;

/// JSON, decoded from text. The encoding of [`crate::error::AppError`].
pub struct JsonTextEncoding;

/// A server function's answer as JSON in a `POST` response (its `output`).
pub type JsonText = Post<JsonTextEncoding>;

impl ContentType for JsonTextEncoding {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonTextEncoding {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn encode(value: &T) -> Result<Bytes, Self::Error> {
        serde_json::to_vec(value).map(Bytes::from)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonTextEncoding {
    type Error = serde_json::Error;

    fn decode(bytes: Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(serde_json::Error::custom)?;
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::JsonTextEncoding;
    use leptos::server_fn::{Decodes, Encodes};

    use crate::error::AppError;

    #[test]
    fn answers_read_back_as_they_were_written() {
        let error = AppError::InteractionRequired { scopes: vec!["Mail.Read".into()], challenge: Some("Yk3p".into()) };
        let bytes = JsonTextEncoding::encode(&error).unwrap();
        assert_eq!(bytes, serde_json::to_vec(&error).unwrap(), "the same bytes as serde_json");
        assert_eq!(<JsonTextEncoding as Decodes<AppError>>::decode(bytes).unwrap(), error);
        assert!(<JsonTextEncoding as Decodes<u64>>::decode(b"\xff".to_vec().into()).is_err(), "not UTF-8");
    }
}

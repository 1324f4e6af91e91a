//! Evidence uploads, streamed: a multipart `file` part is written to disk chunk by chunk
//! while it is hashed and counted, so a 25 MB upload never sits whole in memory, and an
//! upload over the limit is cut off as soon as it passes it. The file is only adopted
//! into the content-addressed store once the engine has accepted the evidence.

use super::problem::{Kind, Problem};
use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use gatehouse_adapters::store::FileStore;
use gatehouse_adapters::store::files::{Incoming, IncomingWriter};

/// A received upload.
pub struct Upload {
    /// The evidence type (the `type` part).
    pub evidence: String,
    /// The file's name as sent, made safe for display.
    pub name: String,
    /// Its media type as sent.
    pub media_type: String,
    /// The bytes, on disk, hashed.
    pub file: Incoming,
}

/// A received multipart form: its `type`, its `file` if one was sent, and the other
/// text parts the caller allowed.
pub struct Form {
    /// The evidence type (the `type` part).
    pub evidence: String,
    /// The file: its safe name, media type and bytes on disk.
    pub file: Option<(String, String, Incoming)>,
    /// The allowed text parts.
    pub text: std::collections::BTreeMap<String, String>,
}

impl Form {
    /// The upload, when a non-empty file was sent.
    pub fn upload(self) -> Result<Upload, Problem> {
        let (name, media_type, file) =
            self.file.ok_or_else(|| Problem::field(Kind::InvalidInput, "file", "is missing: attach the document"))?;
        if file.size == 0 {
            return Err(Problem::field(Kind::InvalidInput, "file", "is empty"));
        }
        Ok(Upload { evidence: self.evidence, name, media_type, file })
    }
}

/// Read a multipart body with a `type` part and a `file` part.
pub async fn receive(
    multipart: Multipart,
    files: &FileStore,
    limit: u64,
    check_type: impl Fn(&str) -> Result<(), Problem>,
) -> Result<Upload, Problem> {
    receive_form(multipart, files, limit, check_type, &[]).await?.upload()
}

/// Read a multipart body with a `type` part, an optional `file` part and the text parts
/// named in `extra` (each at most 64 KiB).
pub async fn receive_form(
    mut multipart: Multipart,
    files: &FileStore,
    limit: u64,
    check_type: impl Fn(&str) -> Result<(), Problem>,
    extra: &[&str],
) -> Result<Form, Problem> {
    let mut evidence: Option<String> = None;
    let mut text = std::collections::BTreeMap::new();
    let mut file: Option<(String, String, Incoming)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_problem)? {
        match field.name() {
            Some("type") => {
                if evidence.is_some() {
                    return Err(Problem::field(Kind::InvalidInput, "type", "is sent more than once; send one `type`"));
                }
                let value = field.text().await.map_err(multipart_problem)?.trim().to_string();
                check_type(&value)?;
                evidence = Some(value);
            }
            Some("file") => {
                if file.is_some() {
                    return Err(Problem::field(Kind::InvalidInput, "file", "send one file per request"));
                }
                let name = crate::app::safe_file_name(field.file_name().unwrap_or("upload"));
                let media_type = field
                    .content_type()
                    .filter(|m| m.parse::<mime_guess::mime::Mime>().is_ok())
                    .map(str::to_string)
                    .unwrap_or_else(|| mime_guess::from_path(&name).first_or_octet_stream().to_string());
                let mut writer = IncomingWriter::create(files, limit).await.map_err(|e| Problem::storage(&e))?;
                while let Some(chunk) = field.chunk().await.map_err(multipart_problem)? {
                    match writer.write(&chunk).await {
                        Ok(true) => {}
                        Ok(false) => {
                            return Err(Problem::field(
                                Kind::TooLarge,
                                "file",
                                format!("is larger than {limit} bytes, the largest accepted"),
                            ));
                        }
                        Err(e) => return Err(Problem::storage(&e)),
                    }
                }
                let incoming = writer.finish().await.map_err(|e| Problem::storage(&e))?;
                file = Some((name, media_type, incoming));
            }
            Some(name) if extra.contains(&name) => {
                let name = name.to_string();
                let value = field.text().await.map_err(multipart_problem)?;
                if value.len() > 64 * 1024 {
                    return Err(Problem::field(Kind::TooLarge, name, "is longer than 64 KiB"));
                }
                text.insert(name, value);
            }
            Some(other) => {
                return Err(Problem::field(
                    Kind::InvalidInput,
                    other.to_string(),
                    "is not a part this route takes; send `type` and `file`",
                ));
            }
            None => return Err(Problem::new(Kind::InvalidInput, "every part needs a name: `type` and `file`")),
        }
    }
    let evidence =
        evidence.ok_or_else(|| Problem::field(Kind::InvalidInput, "type", "is missing: name the evidence type"))?;
    Ok(Form { evidence, file, text })
}

fn multipart_problem(e: MultipartError) -> Problem {
    super::problem::body_problem(e.status(), format!("the multipart body could not be read: {}", e.body_text()))
}

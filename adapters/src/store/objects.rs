//! Documents in an S3-compatible object store, for installations whose documents are
//! too many or too large to keep in the database (`--document-store s3://bucket/prefix`).
//!
//! A document is uploaded under `prefix/ab/abcdef…` (its sha256) once the engine has
//! accepted it and before the transaction that records it begins: the row that points
//! to it (`documents.place = 'objects'`) is committed only once the object store holds
//! every byte, so no row ever names bytes that are not there. Its bytes are hashed again
//! as they are uploaded, and an upload whose bytes are not what its name says is
//! abandoned before the object is completed (a multipart upload) or made (a single
//! request): an object under a name is always that content, whole.
//!
//! A process stopped between the upload and the commit leaves an object that no row
//! names: harmless, as the name is the content and the next upload of it reuses it.
//!
//! The store's settings come from the environment, named as the AWS tools name them:
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT` (another
//! S3-compatible server: MinIO, Ceph, Garage), `AWS_ALLOW_HTTP=true` for one without TLS.
//! A request that fails is tried again for at most [`RETRY_FOR`]; then the caller is
//! told the store is unavailable and nothing was recorded.

use super::StoreError;
use super::documents::{Bytes as Source, CHUNK};
use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt as _, TryStreamExt as _};
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::path::Path as Key;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt as _, RetryConfig};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The largest document uploaded in one request; a larger one goes up in parts of this
/// size, so at most this much of it is held in memory.
const PART: usize = 8 * 1024 * 1024;

/// How long a failing request is tried again before the store is reported unavailable.
pub const RETRY_FOR: Duration = Duration::from_secs(10);

/// A stream of a document's bytes, a part at a time.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// The object store documents are kept in.
#[derive(Debug, Clone)]
pub struct Objects {
    store: Arc<dyn ObjectStore>,
    prefix: Key,
    /// `s3://bucket/prefix`, for messages.
    shown: String,
}

impl Objects {
    /// The store named by `url` (`s3://bucket` or `s3://bucket/prefix`), its other
    /// settings from the environment, then from `settings` (named as the environment's
    /// are: `AWS_ENDPOINT`, …). Nothing is contacted yet.
    pub fn open(url: &str, settings: &[(String, String)]) -> Result<Objects, StoreError> {
        let wrong = |reason: String| StoreError::DocumentStoreSetting { url: url.to_string(), reason };
        let parsed = url::Url::parse(url).map_err(|e| wrong(format!("not a URL ({e})")))?;
        if parsed.scheme() != "s3" {
            return Err(wrong("expected `database` or `s3://bucket/prefix`".into()));
        }
        let bucket = parsed.host_str().filter(|b| !b.is_empty()).ok_or_else(|| wrong("names no bucket".into()))?;
        let prefix = Key::parse(parsed.path().trim_matches('/')).map_err(|e| wrong(e.to_string()))?;
        let retry = RetryConfig { backoff: BackoffConfig::default(), max_retries: 3, retry_timeout: RETRY_FOR };
        let client =
            ClientOptions::new().with_connect_timeout(Duration::from_secs(5)).with_timeout(Duration::from_secs(60));
        // Our defaults, then the environment's AWS_* settings (as `from_env` reads them,
        // which would replace the client options were it first), then `settings`.
        let mut builder = AmazonS3Builder::new().with_client_options(client).with_retry(retry);
        let from_env = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .filter(|(key, _)| key.starts_with("AWS_"));
        for (key, value) in from_env.chain(settings.iter().cloned()) {
            // Like `from_env`: an AWS_* variable the store does not know is not its.
            if let Ok(key) = key.to_ascii_lowercase().parse() {
                builder = builder.with_config(key, value);
            }
        }
        let store = builder.with_bucket_name(bucket).build().map_err(|e| wrong(e.to_string()))?;
        Ok(Objects { store: Arc::new(store), prefix, shown: url.trim_end_matches('/').to_string() })
    }

    /// Where the document named `sha256` is kept.
    fn key(&self, sha256: &str) -> Key {
        let prefix = sha256.get(..2).unwrap_or("xx");
        self.prefix.clone().join(prefix).join(sha256)
    }

    /// Upload a document of `size` bytes named `sha256`, unless the store has it already.
    /// Its bytes are hashed as they go: bytes that are not what `sha256` names are
    /// refused (`Corrupt`) and no object is made.
    pub async fn put(&self, sha256: &str, size: u64, bytes: Source<'_>) -> Result<(), StoreError> {
        match bytes {
            Source::Memory(bytes) => {
                let parts = bytes.chunks(CHUNK).map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>();
                self.upload(sha256, size, futures_util::stream::iter(parts).boxed()).await
            }
            Source::File(path) => {
                let file = tokio::fs::File::open(path).await?;
                let parts = tokio_util::io::ReaderStream::with_capacity(file, CHUNK).map_err(StoreError::Io);
                self.upload(sha256, size, parts.boxed()).await
            }
        }
    }

    /// Upload `parts`, which must add up to `size` bytes whose sha256 is `sha256`, unless
    /// the store has the object already.
    pub(crate) async fn upload(
        &self,
        sha256: &str,
        size: u64,
        mut parts: BoxStream<'_, Result<Bytes, StoreError>>,
    ) -> Result<(), StoreError> {
        let key = self.key(sha256);
        match self.store.head(&key).await {
            // Made by an earlier upload, which checked it: names are content.
            Ok(meta) if meta.size == size => return Ok(()),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        let mut writer = BufWriter::with_capacity(self.store.clone(), key, PART);
        let mut hasher = Sha256::new();
        let mut sent = 0u64;
        let read: Result<(), StoreError> = async {
            while let Some(part) = parts.next().await {
                let part = part?;
                hasher.update(&part);
                sent += part.len() as u64;
                writer.put(part).await?;
            }
            Ok(())
        }
        .await;
        let hashed = hex::encode(hasher.finalize());
        let wrong = match read {
            Err(e) => Some(e),
            Ok(()) if sent != size || hashed != sha256 => Some(StoreError::Corrupt(format!(
                "a document named {sha256} of {size} bytes holds {sent} bytes whose sha256 is {hashed}: not stored"
            ))),
            Ok(()) => None,
        };
        if let Some(e) = wrong {
            // Nothing is made: a part upload is abandoned, a single one never sent.
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "could not abandon an upload to the document store");
            }
            return Err(e);
        }
        use tokio::io::AsyncWriteExt as _;
        writer.shutdown().await.map_err(|e| match e.downcast::<object_store::Error>() {
            Ok(e) => StoreError::Objects(e),
            Err(e) => StoreError::Io(e),
        })?;
        Ok(())
    }

    /// The document named `sha256`, a part at a time. `Corrupt` when the store has no
    /// such object (a row names it, so it was lost).
    pub async fn get(&self, sha256: &str) -> Result<ByteStream, StoreError> {
        match self.store.get(&self.key(sha256)).await {
            Ok(result) => Ok(result.into_stream().map_err(std::io::Error::other).boxed()),
            Err(object_store::Error::NotFound { .. }) => Err(StoreError::Corrupt(format!(
                "document {sha256} is recorded in the document store {} but is not there",
                self.shown
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the store holds the document named `sha256` whole: `size` bytes that
    /// hash to its name. Read a part at a time.
    pub async fn verify(&self, sha256: &str, size: u64) -> Result<bool, StoreError> {
        let mut parts = match self.get(sha256).await {
            Ok(parts) => parts,
            Err(StoreError::Corrupt(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let (mut hasher, mut read) = (Sha256::new(), 0u64);
        while let Some(part) = parts.next().await {
            let part = part?;
            read += part.len() as u64;
            hasher.update(&part);
        }
        Ok(read == size && hex::encode(hasher.finalize()) == sha256)
    }
}

impl std::fmt::Display for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

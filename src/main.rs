//! The `gatehouse` command. A thin layer over the library: parse arguments, run, print
//! errors with their causes, exit 0 (ok), 1 (the input is wrong) or 2 (the program
//! could not do its job).

use clap::{Parser, Subcommand, ValueEnum};
use gatehouse::app::AppConfig;
use gatehouse::cli::authoring::{self, ExplainFormat, GraphFormat};
use gatehouse::cli::service::{self, ServeConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Gatehouse: workflows for commissioning and decommissioning public services.
#[derive(Parser)]
#[command(name = "gatehouse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the database is.
#[derive(clap::Args)]
struct Db {
    /// Database URL: `sqlite://gatehouse.db` (the default) or `postgres://…`.
    #[arg(long = "database-url", env = "GATEHOUSE_DATABASE_URL", default_value = "sqlite://gatehouse.db")]
    url: String,
}

#[derive(clap::Args)]
struct Documents {
    /// Where new evidence documents' bytes are kept: `database` (the default: in the
    /// database, with the rows that point to them) or `s3://bucket/prefix`, an
    /// S3-compatible object store whose other settings are the AWS_* variables
    /// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP).
    #[arg(long = "document-store", env = "GATEHOUSE_DOCUMENT_STORE", default_value = "database")]
    store: String,
}

// Parsed once at start: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve HTTP: apply migrations, publish the workflows folder, then serve.
    Serve {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        documents: Documents,
        /// The workflows folder.
        #[arg(long, env = "GATEHOUSE_WORKFLOWS", default_value = "workflows")]
        workflows: PathBuf,
        /// Where uploads are received before they are stored in the database (and where
        /// an earlier version kept them: see `gatehouse files migrate`).
        #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        /// Address to listen on.
        #[arg(long, env = "GATEHOUSE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Largest evidence file accepted, in bytes.
        #[arg(long, env = "GATEHOUSE_MAX_UPLOAD_BYTES", default_value_t = 25 * 1024 * 1024)]
        max_upload_bytes: u64,
        /// A role whose holders read every case (a governance group, internal audit);
        /// repeat, or separate with commas. Others read the cases of workflows they
        /// hold a role in.
        #[arg(long = "oversight-role", env = "GATEHOUSE_OVERSIGHT_ROLES", value_delimiter = ',')]
        oversight_roles: Vec<String>,
        /// A role whose holders change workflows in the product (drafts, approval,
        /// publishing); repeat, or separate with commas. None: nobody does.
        #[arg(long = "governance-role", env = "GATEHOUSE_GOVERNANCE_ROLES", value_delimiter = ',')]
        governance_roles: Vec<String>,
        /// A role whose holders administer people: they see and revoke everyone's API
        /// tokens; repeat, or separate with commas.
        #[arg(long = "admin-role", env = "GATEHOUSE_ADMIN_ROLES", value_delimiter = ',')]
        admin_roles: Vec<String>,
        /// How many governance members other than its author must approve a draft
        /// before it is published.
        #[arg(long, env = "GATEHOUSE_DRAFT_QUORUM", default_value_t = 2)]
        draft_quorum: usize,
        /// How often, in seconds, to look for workflow versions published by another
        /// node or `gatehouse workflows publish`; new cases open on them at once.
        #[arg(long, env = "GATEHOUSE_DEFINITIONS_POLL_SECS", default_value_t = 5)]
        definitions_poll_secs: u64,
        #[command(flatten)]
        workers: gatehouse::app::workers::WorkerSettings,
        #[command(flatten)]
        http: gatehouse::http::HttpSettings,
        #[command(flatten)]
        oidc: gatehouse::web::oidc::settings::OidcSettings,
    },
    /// List the armed timers due before a date, and what each will do.
    Timers {
        #[command(flatten)]
        db: Db,
        /// The workflows folder (its templates and calendars).
        #[arg(long, env = "GATEHOUSE_WORKFLOWS", default_value = "workflows")]
        workflows: PathBuf,
        /// Timers due before this date (YYYY-MM-DD, in each workflow's time zone).
        #[arg(long)]
        due_before: jiff::civil::Date,
    },
    /// Work on cases from the command line.
    Cases {
        #[command(subcommand)]
        command: CasesCommand,
    },
    /// Add, list and revoke users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Apply pending database migrations.
    Migrate {
        #[command(flatten)]
        db: Db,
    },
    /// Publish workflow definitions to the database.
    Workflows {
        #[command(subcommand)]
        command: WorkflowsCommand,
    },
    /// Check the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Evidence documents.
    Files {
        #[command(subcommand)]
        command: FilesCommand,
    },
    /// Check workflow files (or folders of them); print every problem as file:line:col.
    Validate {
        /// Workflow files or folders.
        #[arg(required = true, env = "GATEHOUSE_WORKFLOWS", value_delimiter = ':')]
        paths: Vec<PathBuf>,
        /// Treat warnings as errors: a transition, timer or param that does not say where
        /// it comes from fails the check.
        #[arg(long)]
        strict: bool,
    },
    /// Print a workflow's state diagram.
    Graph {
        /// The workflow file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphArg::Mermaid, env = "GATEHOUSE_GRAPH_FORMAT")]
        format: GraphArg,
    },
    /// Run the scenarios in each workflow's `tests:` on a virtual clock.
    Test {
        /// Workflow files or folders.
        #[arg(required = true, env = "GATEHOUSE_WORKFLOWS", value_delimiter = ':')]
        paths: Vec<PathBuf>,
        /// Instead, make every mutant of each workflow's rules (a gate removed, a number
        /// moved by one, …) and report those no scenario notices.
        #[arg(long)]
        mutants: bool,
    },
    /// Print a workflow as a policy document for a governance group to sign off.
    Explain {
        /// The workflow file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExplainArg::Markdown, env = "GATEHOUSE_EXPLAIN_FORMAT")]
        format: ExplainArg,
    },
    /// Say what changed between two versions of a workflow file, as the rules it changes
    /// (`git show HEAD:workflows/x.yaml > old.yaml; gatehouse diff old.yaml workflows/x.yaml`).
    Diff {
        /// The earlier version.
        old: PathBuf,
        /// The later one; both are read with the templates and calendars of its folder.
        new: PathBuf,
    },
}

#[derive(Subcommand)]
enum WorkflowsCommand {
    /// Publish every workflow in the folders (or files) given. A changed file whose
    /// version was not bumped is refused; an unchanged one is left alone.
    Publish {
        #[command(flatten)]
        db: Db,
        /// Workflow folders or files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CasesCommand {
    /// Move open cases of a workflow to another published version: one case, or every
    /// open case in chosen states; each in a transaction of its own, with an audit event
    /// naming both versions, and its timers armed again from the new version.
    Migrate {
        #[command(flatten)]
        db: Db,
        /// The workflows folder (its templates and calendars).
        #[arg(long, env = "GATEHOUSE_WORKFLOWS", default_value = "workflows")]
        workflows: PathBuf,
        /// The workflow whose cases move.
        #[arg(long)]
        workflow: String,
        /// The version to move them to (default: the latest published).
        #[arg(long)]
        to: Option<u32>,
        /// Only this case; repeat for more.
        #[arg(long = "case")]
        cases: Vec<i64>,
        /// Only cases in this state; repeat for more.
        #[arg(long = "state")]
        states: Vec<String>,
        /// `old=new`: where a case in a state the new version renamed or removed goes.
        #[arg(long)]
        map: Vec<String>,
        /// Who moves them (their email address), for each case's audit trail.
        #[arg(long)]
        by: String,
        /// Say what would happen to each case, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Add a user; prints their token once.
    Add {
        #[command(flatten)]
        db: Db,
        /// Their email address.
        #[arg(long)]
        email: String,
        /// Their name.
        #[arg(long, default_value = "")]
        name: String,
        /// A role they hold (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List users.
    List {
        #[command(flatten)]
        db: Db,
    },
    /// Revoke a user's token.
    Revoke {
        #[command(flatten)]
        db: Db,
        /// Their email address.
        #[arg(long)]
        email: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every case's hash chain and report the first broken link of each.
    Verify {
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Subcommand)]
enum FilesCommand {
    /// Move the documents an earlier version kept under the data directory into the
    /// database, each checked by its sha256 before its file is removed. Safe to run
    /// again after an interruption.
    Migrate {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        documents: Documents,
        /// The data directory the documents were kept in.
        #[arg(long, env = "GATEHOUSE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphArg {
    Mermaid,
    Dot,
    Svg,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExplainArg {
    Markdown,
    Html,
}

fn main() -> ExitCode {
    few_malloc_arenas();
    let cli = Cli::parse();
    init_tracing();
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Serve {
            db,
            documents,
            workflows,
            data_dir,
            listen,
            max_upload_bytes,
            oversight_roles,
            governance_roles,
            admin_roles,
            draft_quorum,
            definitions_poll_secs,
            workers,
            http,
            oidc,
        } => {
            let app = AppConfig { database_url: db.url, workflows, data_dir, max_upload_bytes, oversight_roles };
            let document_store = documents.store;
            let definitions_poll = std::time::Duration::from_secs(definitions_poll_secs.max(1));
            let governance = gatehouse::app::drafts::Governance {
                roles: governance_roles,
                quorum: draft_quorum.max(1),
                admin_roles,
                provider_roles: Vec::new(),
            };
            block_on(service::serve(ServeConfig {
                app,
                document_store,
                listen,
                definitions_poll,
                governance,
                workers,
                http,
                oidc,
            }))
        }
        Command::Cases {
            command: CasesCommand::Migrate { db, workflows, workflow, to, cases, states, map, by, dry_run },
        } => {
            let req = gatehouse::app::migration::MigrateRequest { workflow, to, cases, states, map, dry_run };
            block_on(gatehouse::cli::cases::migrate_cases(&db.url, &workflows, &req, &by, &mut out))
        }
        Command::Timers { db, workflows, due_before } => {
            block_on(gatehouse::cli::timers::list_timers(&db.url, &workflows, due_before, &mut out))
        }
        Command::Users { command: UsersCommand::Add { db, email, name, roles } } => {
            block_on(gatehouse::cli::users::add(&db.url, &email, &name, &roles, &mut out))
        }
        Command::Users { command: UsersCommand::List { db } } => {
            block_on(gatehouse::cli::users::list(&db.url, &mut out))
        }
        Command::Users { command: UsersCommand::Revoke { db, email } } => {
            block_on(gatehouse::cli::users::revoke(&db.url, &email, &mut out))
        }
        Command::Migrate { db } => block_on(service::migrate(&db.url, &mut out)),
        Command::Workflows { command: WorkflowsCommand::Publish { db, paths } } => {
            block_on(service::publish(&db.url, &paths, &mut out))
        }
        Command::Audit { command: AuditCommand::Verify { db } } => block_on(service::audit_verify(&db.url, &mut out)),
        Command::Files { command: FilesCommand::Migrate { db, documents, data_dir } } => {
            block_on(gatehouse::cli::files::migrate(&db.url, &documents.store, &data_dir, &mut out))
        }
        Command::Validate { paths, strict } => authoring::validate(&paths, strict, &mut out),
        Command::Test { paths, mutants: false } => authoring::test(&paths, &mut out),
        Command::Test { paths, mutants: true } => gatehouse::cli::mutants::run(&paths, &mut out),
        Command::Graph { file, format } => {
            let format = match format {
                GraphArg::Mermaid => GraphFormat::Mermaid,
                GraphArg::Dot => GraphFormat::Dot,
                GraphArg::Svg => GraphFormat::Svg,
            };
            authoring::graph(&file, format, &mut out)
        }
        Command::Diff { old, new } => authoring::diff(&old, &new, &mut out),
        Command::Explain { file, format } => {
            let format = match format {
                ExplainArg::Markdown => ExplainFormat::Markdown,
                ExplainArg::Html => ExplainFormat::Html,
            };
            authoring::explain(&file, format, &mut out)
        }
    };
    drop(out);
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// At most two of glibc's malloc arenas, unless `MALLOC_ARENA_MAX` says otherwise.
/// glibc gives each thread that allocates while another does an arena of its own, up to
/// eight per core, and keeps what each arena once held: after the reports of 100,000
/// cases (the CSV, the register) the server held 79 MB, with two arenas 54 MB, for the
/// same pages (`cargo xtask bench` sets the target under 64 MB). Called before any other
/// thread starts.
fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets an allocator parameter; it is called here, first
        // thing in `main`, before the runtime or any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(f)
}

/// Logs to stderr: human-readable, or JSON with `GATEHOUSE_LOG_FORMAT=json`; the level
/// from `RUST_LOG` (default `info`).
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("GATEHOUSE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

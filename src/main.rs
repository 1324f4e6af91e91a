//! The `gatehouse` command. A thin layer over the library: parse arguments, run, print
//! errors with their causes, exit 0 (ok), 1 (the input is wrong) or 2 (the program
//! could not do its job).

use clap::{Parser, Subcommand, ValueEnum};
use gatehouse::authoring::{self, ExplainFormat, GraphFormat};
use std::path::PathBuf;
use std::process::ExitCode;

/// Gatehouse: workflows for commissioning and decommissioning public services.
#[derive(Parser)]
#[command(name = "gatehouse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check workflow files (or folders of them); print every problem as file:line:col.
    Validate {
        /// Workflow files or folders.
        #[arg(required = true, env = "GATEHOUSE_WORKFLOWS", value_delimiter = ':')]
        paths: Vec<PathBuf>,
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
    },
    /// Print a workflow as a policy document for a governance group to sign off.
    Explain {
        /// The workflow file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExplainArg::Markdown, env = "GATEHOUSE_EXPLAIN_FORMAT")]
        format: ExplainArg,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphArg {
    Mermaid,
    Dot,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExplainArg {
    Markdown,
    Html,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Validate { paths } => authoring::validate(&paths, &mut out),
        Command::Test { paths } => authoring::test(&paths, &mut out),
        Command::Graph { file, format } => {
            let format = match format {
                GraphArg::Mermaid => GraphFormat::Mermaid,
                GraphArg::Dot => GraphFormat::Dot,
            };
            authoring::graph(&file, format, &mut out)
        }
        Command::Explain { file, format } => {
            let format = match format {
                ExplainArg::Markdown => ExplainFormat::Markdown,
                ExplainArg::Html => ExplainFormat::Html,
            };
            authoring::explain(&file, format, &mut out)
        }
    };
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

//! Moving open cases to a new version of their workflow, end to end: a governance
//! group renames a state, publishes the version, sees with `--dry-run` which cases
//! would move and that one in the renamed state needs a mapping, then moves it; the
//! running server serves it on the new version, its audit trail says so and still
//! verifies, and the case not chosen stays where it was.

mod support;

use serde_json::json;
use support::server::{Server, gatehouse};

async fn open(server: &Server, token: &str, service: &str) -> i64 {
    let r = server
        .post(
            Some(token),
            "/api/cases",
            json!({"workflow": "lcc-decommissioning", "fields": {
                "service_name": service, "provider_name": "Kirkstall Trust", "provider_email": "p@provider.example.org",
                "directorate": "Adults and Health", "annual_value": 80000, "contract_end": "2030-01-31"}}),
        )
        .await;
    r.expect(201);
    r.json["id"].as_i64().unwrap()
}

fn run(args: &[&str]) -> (bool, String) {
    let out = gatehouse().args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Publish the next version of Leeds decommissioning, its first state renamed, from a
/// copy of the workflows folder: the shipped version, the next, and the folder.
fn publish_renamed(server: &Server) -> (u32, u32, tempfile::TempDir) {
    let source = std::fs::read_to_string(support::workflows_dir().join("lcc-decommissioning.yaml")).unwrap();
    let (shipped, next) = (support::workflow_version(&source), support::workflow_version(&source) + 1);
    let dir = tempfile::tempdir().unwrap();
    support::copy_dir(&support::workflows_dir(), dir.path());
    std::fs::write(dir.path().join("lcc-decommissioning.yaml"), support::lcc_first_state_renamed(&source, next))
        .unwrap();
    let (ok, text) = run(&["workflows", "publish", "--database-url", &server.db.url, dir.path().to_str().unwrap()]);
    assert!(ok, "{text}");
    (shipped, next, dir)
}

async fn migrate_open_cases(backend: support::Backend) {
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let (moving, staying) = (open(&server, &alice, "Day centre").await, open(&server, &alice, "Lunch club").await);

    // The next version renames the first state, `proposal`, to `preparing`.
    let (shipped, next, dir) = publish_renamed(&server);
    let folder = dir.path().to_str().unwrap();

    let migrate = |extra: &[&str]| {
        let mut args = vec!["cases", "migrate", "--database-url", &server.db.url, "--workflows", folder];
        args.extend(["--workflow", "lcc-decommissioning", "--by", "gov@leeds.example"]);
        args.extend(extra);
        run(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>())
    };
    // Without a mapping neither can move: they are in a state the new version lacks.
    let (ok, text) = migrate(&["--dry-run"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains(&format!("case {moving}: cannot be moved: case {moving} is in `proposal`, which version {next} does not have: map it to one of its states (`--map proposal=<state>`)")),
        "{text}"
    );
    // Mapped, one chosen case: a dry run says what would happen and changes nothing.
    let one = ["--case", &moving.to_string(), "--map", "proposal=preparing"].map(str::to_string);
    let one: Vec<&str> = one.iter().map(String::as_str).collect();
    let (ok, text) = migrate(&[&one[..], &["--dry-run"]].concat());
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("case {moving}: would move from version {shipped} to {next} (in `preparing`)")),
        "{text}"
    );
    assert!(text.contains("moves from `proposal` to `preparing`"), "{text}");
    let case = server.get(Some(&alice), &format!("/api/cases/{moving}")).await;
    assert_eq!(
        (case.json["workflow_version"].as_u64(), case.json["state"].as_str()),
        (Some(shipped as u64), Some("proposal"))
    );

    let (ok, text) = migrate(&one);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("1 case(s) moved to version {next} of lcc-decommissioning")), "{text}");

    // The running server serves it on the new version once it has read that version.
    let mut case = server.get(Some(&alice), &format!("/api/cases/{moving}")).await;
    for _ in 0..100 {
        if case.status == 200 && case.json["state"] == "preparing" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        case = server.get(Some(&alice), &format!("/api/cases/{moving}")).await;
    }
    assert_eq!(
        (case.json["workflow_version"].as_u64(), case.json["state"].as_str()),
        (Some(next as u64), Some("preparing")),
        "{}\n{}",
        case.text,
        server.log().join("\n")
    );
    let events = server.get(Some(&alice), &format!("/api/cases/{moving}/events")).await;
    let migrated: Vec<&serde_json::Value> =
        events.json["events"].as_array().unwrap().iter().filter(|e| e["kind"] == "migrated").collect();
    assert_eq!(migrated.len(), 1, "{}", events.text);
    assert_eq!(migrated[0]["actor"], "gov@leeds.example");
    let payload = &migrated[0]["payload"];
    assert_eq!(
        (
            payload["from_version"].as_u64(),
            payload["to_version"].as_u64(),
            payload["from_state"].as_str(),
            payload["to_state"].as_str()
        ),
        (Some(shipped as u64), Some(next as u64), Some("proposal"), Some("preparing")),
        "{}",
        events.text
    );
    // The case can go on in the new version.
    server
        .post(Some(&alice), &format!("/api/cases/{moving}/transitions"), json!({"transition": "withdraw"}))
        .await
        .expect(200);

    // The case not chosen stays on its version; every audit chain still verifies.
    let other = server.get(Some(&alice), &format!("/api/cases/{staying}")).await;
    assert_eq!(
        (other.json["workflow_version"].as_u64(), other.json["state"].as_str()),
        (Some(shipped as u64), Some("proposal"))
    );
    let (ok, text) = run(&["audit", "verify", "--database-url", &server.db.url]);
    assert!(ok, "{text}");
}
on_both!(open_cases_move_to_a_new_version_only_when_chosen_and_mapped, migrate_open_cases);

/// `gatehouse cases migrate` killed (SIGKILL) part-way, again and again: every case is
/// on one version or the other, whole: its version, state and audit trail agree, and
/// every audit chain verifies. Run again, it moves the rest.
async fn killed_migrations(backend: support::Backend) {
    use gatehouse_adapters::store::entities::{case, event};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let server = Server::start(backend).await;
    let alice = server.user("alice@leeds.example", &["commissioner"]);
    let mut ids = Vec::new();
    for i in 0..60 {
        ids.push(open(&server, &alice, &format!("Service {i}")).await);
    }
    let (shipped, next, dir) = publish_renamed(&server);
    let folder = dir.path().to_str().unwrap().to_string();
    let args = [
        "cases",
        "migrate",
        "--database-url",
        &server.db.url,
        "--workflows",
        &folder,
        "--workflow",
        "lcc-decommissioning",
        "--by",
        "gov@leeds.example",
        "--map",
        "proposal=preparing",
    ];

    let store = gatehouse_adapters::store::Store::connect(&gatehouse_adapters::store::StoreConfig::new(&server.db.url))
        .await
        .unwrap();
    let whole = || async {
        let mut moved = 0;
        for id in &ids {
            let row = case::Entity::find_by_id(*id).one(store.connection()).await.unwrap().unwrap();
            let migrated = event::Entity::find()
                .filter(event::Column::CaseId.eq(*id))
                .filter(event::Column::Kind.eq("migrated"))
                .all(store.connection())
                .await
                .unwrap()
                .len();
            match (row.workflow_version as u32, row.state.as_str(), migrated) {
                (v, "proposal", 0) if v == shipped => {}
                (v, "preparing", 1) if v == next => moved += 1,
                other => panic!("case {id} is half moved: {other:?}"),
            }
        }
        let (_, broken) = store.verify_audit().await.unwrap();
        assert_eq!(broken, vec![], "every audit chain is intact");
        moved
    };
    // Each round is killed as soon as it has moved one more case than the round
    // before: in the middle of its work.
    let migrated = || async {
        event::Entity::find().filter(event::Column::Kind.eq("migrated")).all(store.connection()).await.unwrap().len()
    };
    let mut part_way = 0;
    for _ in 0..4 {
        let before = migrated().await;
        if before == ids.len() {
            break;
        }
        let mut child = gatehouse().args(args).stdout(std::process::Stdio::null()).spawn().unwrap();
        for _ in 0..4000 {
            if migrated().await > before || child.try_wait().unwrap().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let _ = child.kill();
        child.wait().unwrap();
        let moved = whole().await;
        if moved > 0 && moved < ids.len() {
            part_way += 1;
        }
    }
    assert!(part_way > 0, "some migration was killed part-way");
    let (ok, text) = run(&args);
    assert!(ok, "{text}");
    assert_eq!(whole().await, ids.len(), "run again, it moves the rest");
}
on_both!(a_migration_killed_part_way_leaves_every_case_whole, killed_migrations);

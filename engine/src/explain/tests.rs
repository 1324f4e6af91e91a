use super::*;
use crate::load::{Library, load};
use crate::templates::TemplateSource;
use expect_test::expect;

fn definition(yaml: &str) -> Definition {
    let mut library = Library::default();
    for name in ["notice-of-decommissioning", "acknowledge-notice", "contract-ending", "annual-code-review"] {
        library.templates.insert(
            name.to_string(),
            TemplateSource {
                file: format!("templates/{name}.txt"),
                text: "Subject: Hello\n\nHello {{ recipient.title }}\n".into(),
                html: None,
            },
        );
    }
    match load("test.yaml", yaml, &library) {
        Ok(l) => l.definition,
        Err(e) => panic!("{e:#?}"),
    }
}

const WORKFLOW: &str = r#"
id: lcc-decommissioning
version: 2
title: Leeds decommissioning toolkit
description: |
  How Leeds decides to stop funding a service.

  Second paragraph.
source: leeds-commissioning-code-of-practice-2018.txt, "De-commissioning"
params:
  key_decision_threshold: 500000
roles:
  commissioner: { title: Lead commissioner }
  pig: { title: Planning Implementation Group, description: Chaired by the director }
  exec_board: { title: Executive Board }
  provider: { title: Provider, external: true, email_field: provider_email }
  pcg: { title: People Commissioning Group }
fields:
  service_name: { type: text, required: true }
  provider_email: { type: email, required: true }
  annual_value: { type: money }
  contract_end: { type: date, required: true, title: Contract end date }
  route: { type: choice, choices: [grant, contract] }
evidence:
  eia: { title: Equality impact assessment, kind: document, valid_for: P12M, source: "Toolkit, para 4.2" }
  dimensions:
    title: Stakeholder dimensions
    kind: checklist
    items: { financial: Financial requirements, users: { label: Needs of service users, allow_na: true } }
  ack: { title: Provider acknowledges notice, kind: acknowledgement, from: provider }
states:
  evidence: { initial: true, title: Gathering evidence, stage: Analysis, description: The commissioner gathers evidence. }
  decision: { title: Awaiting decision, stage: Decision }
  notice: { title: Notice served, stage: Decision }
  closed: { terminal: true }
transitions:
  - id: submit_for_decision
    from: evidence
    to: decision
    by: commissioner
    source: "Toolkit, para 5"
    gates:
      - evidence: eia
        source: "Toolkit, para 4.2"
      - checklist: dimensions
      - approval: { role: pig, quorum: 2, not_by: submitter }
  - id: approve_key_decision
    from: decision
    to: notice
    when: "case.fields.annual_value >= params.key_decision_threshold"
    gates:
      - rule: "case.fields.contract_end >= add_months(today, 6)"
        id: six_months_notice
        explain: At least six months' notice before the contract ends.
        source: Compact for Leeds
      - any:
          - approval: { role: exec_board }
          - all:
              - evidence: ack
            id: acknowledged
        id: decided
  - id: close
    from: [notice]
    to: closed
timers:
  - id: notice_letter
    on_enter: notice
    send: { to: provider, template: notice-of-decommissioning }
  - id: chase_acknowledgement
    in: notice
    after: P10D
    every: P7D
    until: { evidence: ack }
    send: { to: provider, template: acknowledge-notice }
  - id: contract_end_reached
    title: Contract ending
    in: notice
    at: contract_end
    offset: -P1M
    fire: close
    send: { to: [commissioner, pig], template: contract-ending }
    source: "Toolkit, para 9"
schedules:
  - id: annual_code_review
    cron: "0 0 9 1 4 *"
    send: { to: pcg, template: annual-code-review }
    source: Code of practice, review
"#;

#[test]
fn markdown_reads_as_a_policy_document() {
    let def = definition(WORKFLOW);
    let md = markdown(&def).replace(&def.sha256, "<sha256>");
    expect![[r##"
        # Leeds decommissioning toolkit

        How Leeds decides to stop funding a service.

        Second paragraph.

        - Workflow: `lcc-decommissioning`, version 2
        - Source document: leeds-commissioning-code-of-practice-2018.txt, "De-commissioning"
        - Dates and times are in the Europe/London time zone.
        - File fingerprint (SHA-256): `<sha256>`

        ## Values set by this workflow

        | Value | Set to | Where it comes from |
        |---|---|---|
        | `params.key_decision_threshold` | 500000 | Not stated |

        ## Who is involved

        | Role | How they take part | Description |
        |---|---|---|
        | Lead commissioner (`commissioner`) | signs in with an account |  |
        | Planning Implementation Group (`pig`) | signs in with an account | Chaired by the director |
        | Executive Board (`exec_board`) | signs in with an account |  |
        | Provider (`provider`) | reached by email link, no account (address in Provider email) |  |
        | People Commissioning Group (`pcg`) | signs in with an account |  |

        ## What a case records

        | Field | Type | Required | Description |
        |---|---|---|---|
        | Service name (`service_name`) | text | yes |  |
        | Provider email (`provider_email`) | email | yes |  |
        | Annual value (`annual_value`) | money (pounds) | no |  |
        | Contract end date (`contract_end`) | date | yes |  |
        | Route (`route`) | choice of: grant, contract | no |  |

        ## Evidence

        ### Equality impact assessment

        - Kind: document (`eia`)
        - Valid for 12 months after it is attached.
        - Provided by: anyone with an internal role
        - *Source: Toolkit, para 4.2*

        ### Stakeholder dimensions

        - Kind: checklist (`dimensions`)
        - Provided by: anyone with an internal role
        - Items to answer:
          - Financial requirements
          - Needs of service users (may be answered not applicable)

        ### Provider acknowledges notice

        - Kind: acknowledgement (`ack`)
        - Provided by: Provider (by email link)

        ## Stages

        ### Analysis

        #### Gathering evidence (`evidence`)

        The commissioner gathers evidence.

        New cases start here.

        - **Submit for decision** (`submit_for_decision`) moves the case to *Awaiting decision*.
          - Who may ask for it: Lead commissioner.
          - When it applies: every case.
          - What it requires:
            - The Equality impact assessment must be attached (valid for 12 months). *Source: Toolkit, para 4.2*
            - Every item of the Stakeholder dimensions checklist must be answered yes, or not applicable where the item says so:
              - Financial requirements
              - Needs of service users (may be answered not applicable)
            - Approval by 2 members of Planning Implementation Group; not the person who submitted it; members who declared a conflict of interest do not count; any rejection blocks.
          - *Source: Toolkit, para 5*

        ### Decision

        #### Awaiting decision (`decision`)

        - **Approve key decision** (`approve_key_decision`) moves the case to *Notice served*.
          - Who may ask for it: anyone with an internal role.
          - When it applies: only when `case.fields.annual_value >= params.key_decision_threshold`, where `params.key_decision_threshold = 500000`.
          - What it requires:
            - At least six months' notice before the contract ends (rule `case.fields.contract_end >= add_months(today, 6)`). *Source: Compact for Leeds*
            - At least one of the following:
              - Approval by Executive Board; members who declared a conflict of interest do not count; any rejection blocks.
              - All of the following:
                - An acknowledgement must be received from the Provider: Provider acknowledges notice.

        #### Notice served (`notice`)

        - **Close** (`close`) moves the case to *Closed*.
          - Who may ask for it: anyone with an internal role.
          - When it applies: every case.
          - What it requires: nothing more; it can happen as soon as it is asked for.

        ### Other states

        #### Closed (`closed`)

        Cases end here.

        ## Reminders and notices

        - When a case enters Notice served, the Provider is sent `notice-of-decommissioning`.
        - 10 days after a case enters Notice served, and every 7 days after that until an acknowledgement is received from the Provider (Provider acknowledges notice), the Provider is sent `acknowledge-notice`. This stops when the case leaves Notice served.
        - **Contract ending.** At 09:00, 1 month before the Contract end date, if the case is in Notice served, the Lead commissioner and the Planning Implementation Group are sent `contract-ending`, and the Close transition is requested (`close`), which goes ahead only if its gates hold. This stops when the case leaves Notice served. *Source: Toolkit, para 9*

        ## Schedules

        - **Annual code review.** Every year on 1 April at 09:00 (Europe/London time; cron `0 0 9 1 4 *`), the People Commissioning Group is sent `annual-code-review`. *Source: Code of practice, review*

        ## Sign-off

        This document describes version 2 of the workflow `lcc-decommissioning` (SHA-256 `<sha256>`). Approved as a faithful statement of the policy by:

        | Approved by | On behalf of | Signature | Date |
        |---|---|---|---|
        |   |   |   |   |
        |   |   |   |   |
    "##]].assert_eq(&md);
}

#[test]
fn html_is_a_complete_page_with_the_same_content() {
    let def = definition(WORKFLOW);
    let html = html(&def);
    assert!(html.starts_with("<!doctype html>\n<html lang=\"en\">"), "{html}");
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(html.trim_end().ends_with("</html>"));
    for text in [
        "<h3>Analysis</h3>",
        "<h4>Gathering evidence <code>evidence</code></h4>",
        "The Equality impact assessment must be attached (valid for 12 months). <span class=\"source\">Source: Toolkit, para 4.2</span>",
        "<li>Needs of service users (may be answered not applicable)</li>",
        "<p><strong>Approve key decision</strong> <code>approve_key_decision</code> moves the case to <strong>Notice served</strong>.</p>",
        "only when <code>case.fields.annual_value &gt;= params.key_decision_threshold</code>, where <code>params.key_decision_threshold = 500000</code>.",
        "the Provider is sent <code>notice-of-decommissioning</code>.",
        "<th>Approved by</th>",
    ] {
        assert!(html.contains(text), "missing {text:?} in\n{html}");
    }
}

#[test]
fn html_escapes_every_text_from_the_workflow() {
    let def = definition(
        r#"
id: hostile
version: 1
title: "<script>alert('title')</script>"
description: "Fish & chips <b>bold</b>"
roles:
  commissioner: { title: "<img src=x onerror=alert(1)>" }
states:
  open: { initial: true, title: "A \"quoted\" <state>" }
  done: { terminal: true }
transitions:
  - id: finish
    from: open
    to: done
    by: commissioner
    source: "</span><script>x</script>"
"#,
    );
    let html = html(&def);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("<h1>&lt;script&gt;alert(&#x27;title&#x27;)&lt;&#x2f;script&gt;</h1>"), "{html}");
    assert!(html.contains("Fish &amp; chips &lt;b&gt;bold&lt;&#x2f;b&gt;"), "{html}");
    assert!(html.contains("A &quot;quoted&quot; &lt;state&gt;"), "{html}");
}

#[test]
fn markdown_escapes_text_and_shows_no_timers() {
    let def = definition(
        r#"
id: plain
version: 1
title: "Use *care* with [links] | pipes and snake_case"
states:
  open: { initial: true }
  done: { terminal: true }
transitions:
  - { id: finish, from: open, to: done }
"#,
    );
    let md = markdown(&def);
    assert!(md.starts_with("# Use \\*care\\* with \\[links\\] \\| pipes and snake_case\n"), "{md}");
    assert!(md.contains("## Reminders and notices\n\nThis workflow sends no reminders or notices.\n"), "{md}");
    assert!(md.contains("- Who may ask for it: anyone with an internal role."), "{md}");
}

#[test]
fn cron_in_words() {
    let words: Vec<Option<String>> = [
        "0 0 9 1 4 *",
        "0 30 8 * * *",
        "0 0 9 * * Mon",
        "0 0 9 * * MON-FRI",
        "0 0 9 15 * *",
        "0 0 9 1 4 * 2027",
        "0 */5 * * * *",
    ]
    .into_iter()
    .map(cron_words)
    .collect();
    expect![[r#"
            [
                Some(
                    "Every year on 1 April at 09:00",
                ),
                Some(
                    "Every day at 08:30",
                ),
                Some(
                    "Every Monday at 09:00",
                ),
                Some(
                    "Every Monday to Friday at 09:00",
                ),
                Some(
                    "On the 15th of every month at 09:00",
                ),
                None,
                None,
            ]
        "#]]
    .assert_debug_eq(&words);
}

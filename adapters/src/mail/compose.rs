//! Turning a queued message into an email for one recipient role: the template data
//! (fields shown for people, the state's title, the case's web address, the signed
//! link), the rendered template, and the lettre message with a Message-ID derived from
//! the idempotency key — the same on every attempt, so a mail system that sees a
//! message twice can tell.

use gatehouse_engine::Definition;
use gatehouse_engine::snapshot::CaseSnapshot;
use gatehouse_engine::templates::{Rendered, TemplateData};
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::{Address, Message};

/// Who one email goes to: the members of one role, or the case's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The role id (`creator` for the person who opened the case).
    pub role: String,
    /// The role's title.
    pub title: String,
    /// Where to send it.
    pub addresses: Vec<Address>,
    /// The signed link, for an external role.
    pub link: Option<String>,
}

/// What a template is rendered with, for `recipient`. `case` is `None` for a workflow
/// schedule's message.
pub fn template_data(
    def: &Definition,
    case: Option<&CaseSnapshot>,
    recipient: &Recipient,
    deadline: Option<jiff::civil::Date>,
    timer: &str,
    base_url: &str,
) -> TemplateData {
    TemplateData {
        recipient_role: recipient.role.clone(),
        recipient_title: recipient.title.clone(),
        link: recipient.link.clone().unwrap_or_default(),
        deadline: deadline.map(gatehouse_engine::letters::date_in_words).unwrap_or_default(),
        timer: timer.to_string(),
        ..TemplateData::for_case(def, case, base_url)
    }
}

/// The Message-ID for the email to `role` of the message with idempotency key `key`:
/// `<case.42.3.chase.2.provider@domain>`.
pub fn message_id(key: &str, role: &str, domain: &str) -> String {
    let local: String = format!("{key}/{role}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '.' })
        .collect();
    format!("<{local}@{domain}>")
}

/// The email itself: plain text, or plain text and HTML when the template has both.
pub fn build(
    from: &Mailbox,
    recipient: &Recipient,
    rendered: &Rendered,
    message_id: String,
    date: jiff::Timestamp,
) -> Result<Message, String> {
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(rendered.subject.clone())
        .message_id(Some(message_id))
        .date(std::time::SystemTime::from(date));
    for a in &recipient.addresses {
        builder = builder.to(Mailbox::new(None, a.clone()));
    }
    let built = match &rendered.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(rendered.text.clone(), html.clone())),
        None => builder.header(ContentType::TEXT_PLAIN).body(rendered.text.clone()),
    };
    built.map_err(|e| format!("the email cannot be built: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_safe() {
        assert_eq!(
            message_id("case/42/3/chase/2", "provider", "leeds.example"),
            "<case.42.3.chase.2.provider@leeds.example>"
        );
        assert_eq!(
            message_id("schedule/annual-review/due/2026-04-01T08:00:00Z", "pcg", "x"),
            "<schedule.annual-review.due.2026-04-01T08.00.00Z.pcg@x>"
        );
    }

    #[test]
    fn an_email_has_its_headers_and_both_parts() {
        let r = Recipient {
            role: "provider".into(),
            title: "Provider".into(),
            addresses: vec!["p@example.org".parse().unwrap()],
            link: None,
        };
        let rendered = Rendered {
            subject: "Notice".into(),
            text: "Dear provider".into(),
            html: Some("<p>Dear provider</p>".into()),
        };
        let from: Mailbox = "Gatehouse <gatehouse@leeds.example>".parse().unwrap();
        let m =
            build(&from, &r, &rendered, "<a.b@leeds.example>".into(), "2026-01-05T09:00:00Z".parse().unwrap()).unwrap();
        let text = String::from_utf8(m.formatted()).unwrap();
        assert!(text.contains("Message-ID: <a.b@leeds.example>"), "{text}");
        assert!(text.contains("To: p@example.org"), "{text}");
        assert!(text.contains("Date: Mon, 05 Jan 2026 09:00:00 +0000"), "{text}");
        assert!(text.contains("multipart/alternative"), "{text}");
    }
}

//! What a letter is rendered with for a case: the template data the mail sender and the
//! scenario runner both start from.

use crate::definition::Definition;
use crate::snapshot::CaseSnapshot;
use crate::snapshot::ParentCase;
use crate::templates::{ParentData, TemplateData};
use crate::values::FieldValue;

impl TemplateData {
    /// What a template is rendered with for `case` of `def` (none for a workflow
    /// schedule's message): the workflow, the case's id, web address (under
    /// `base_url`), state, owner (named by their id, which is their email address, until
    /// the sender puts their name in) and every declared field as shown to people (empty
    /// when not set). Recipient, link, deadline and timer are the sender's to fill in.
    pub fn for_case(def: &Definition, case: Option<&CaseSnapshot>, base_url: &str) -> Self {
        let mut data = TemplateData {
            workflow_id: def.id.clone(),
            workflow_title: def.title.clone(),
            organisation: def.organisation.clone(),
            fields: def.fields.keys().map(|f| (f.to_string(), String::new())).collect(),
            ..TemplateData::default()
        };
        if let Some(case) = case {
            data.case_id = case.id;
            data.case_url = format!("{}/cases/{}", base_url.trim_end_matches('/'), case.id);
            data.state = case.state.to_string();
            data.state_title =
                def.states.get(&case.state).map(|s| s.title.clone()).unwrap_or_else(|| case.state.to_string());
            data.owner_name = case.owner.clone();
            data.owner_email = case.owner.clone();
            for (id, value) in &case.fields {
                data.fields.insert(id.to_string(), in_letter(value));
            }
            data.parent = case.parent.as_ref().map(|p| ParentData {
                id: p.id,
                url: format!("{}/cases/{}", base_url.trim_end_matches('/'), p.id),
                state: p.state.to_string(),
                state_title: p.state_title.clone(),
                fields: p.fields.clone(),
            });
        }
        data
    }
}

impl ParentCase {
    /// The case `case` of `def` as its children's letters read it.
    pub fn of(def: &Definition, case: &CaseSnapshot) -> Self {
        ParentCase {
            id: case.id,
            workflow: def.id.clone(),
            state: case.state.clone(),
            state_title: def.states.get(&case.state).map(|s| s.title.clone()).unwrap_or_else(|| case.state.to_string()),
            // Every declared field, empty when not set, as for the case's own.
            fields: def
                .fields
                .keys()
                .map(|f| (f.to_string(), case.fields.get(f).map(in_letter).unwrap_or_default()))
                .collect(),
        }
    }
}

/// A field's value as a letter shows it: a date in words ("31 March 2027"), anything
/// else as people see it everywhere.
pub fn in_letter(value: &FieldValue) -> String {
    match value {
        FieldValue::Date(d) => date_in_words(*d),
        other => other.display(),
    }
}

/// "31 March 2027".
pub fn date_in_words(d: jiff::civil::Date) -> String {
    d.strftime("%-d %B %Y").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_letter_gives_dates_in_words() {
        assert_eq!(super::date_in_words(jiff::civil::date(2027, 3, 31)), "31 March 2027");
        assert_eq!(super::date_in_words(jiff::civil::date(2026, 1, 5)), "5 January 2026");
    }
}

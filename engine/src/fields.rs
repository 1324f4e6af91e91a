//! Typed field values: every write is checked against the field's declared type.

use crate::decision::{Problem, Refusal};
use crate::definition::{Definition, Field, FieldType};
use crate::ids::FieldId;
use crate::snapshot::CaseSnapshot;
use crate::snapshot::FieldValue;
use std::collections::BTreeMap;

pub use crate::values::Input;
use jiff::civil::Date;

/// Check `input` against `field`: `Ok(None)` clears the field.
pub fn check(field: &Field, input: &Input) -> Result<Option<FieldValue>, String> {
    if let Input::Null = input {
        return if field.required { Err("is required".into()) } else { Ok(None) };
    }
    if let Input::Text(s) = input
        && s.trim().is_empty()
    {
        return if field.required { Err("is required".into()) } else { Ok(None) };
    }
    let value = match (&field.kind, input) {
        (FieldType::Text, Input::Text(s)) => FieldValue::Text(s.trim().to_string()),
        (FieldType::Email, Input::Text(s)) => FieldValue::Text(email(s)?),
        (FieldType::Choice(choices), Input::Text(s)) => {
            let s = s.trim();
            if !choices.iter().any(|c| c == s) {
                return Err(format!("must be one of: {}", choices.join(", ")));
            }
            FieldValue::Text(s.to_string())
        }
        (FieldType::Money, i) => FieldValue::Pence(pence(i)?),
        (FieldType::Number, Input::Int(n)) => FieldValue::Number(*n as f64),
        (FieldType::Number, Input::Float(n)) if n.is_finite() => FieldValue::Number(*n),
        (FieldType::Number, Input::Text(s)) => {
            FieldValue::Number(s.trim().parse::<f64>().ok().filter(|n| n.is_finite()).ok_or("must be a number")?)
        }
        (FieldType::Integer, Input::Int(n)) => FieldValue::Integer(*n),
        (FieldType::Integer, Input::Float(n)) if n.fract() == 0.0 && n.abs() < 9e15 => FieldValue::Integer(*n as i64),
        (FieldType::Integer, Input::Text(s)) => {
            FieldValue::Integer(s.trim().parse().map_err(|_| "must be a whole number")?)
        }
        (FieldType::Boolean, Input::Bool(b)) => FieldValue::Bool(*b),
        (FieldType::Boolean, Input::Text(s)) => FieldValue::Bool(match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" => true,
            "false" | "no" => false,
            _ => return Err("must be yes or no".into()),
        }),
        (FieldType::Date, Input::Text(s)) => FieldValue::Date(date(s)?),
        (kind, _) => return Err(format!("must be {}", expected(kind))),
    };
    Ok(Some(value))
}

/// A date written YYYY-MM-DD.
pub fn date(s: &str) -> Result<Date, String> {
    let s = s.trim();
    if s.len() != 10 {
        return Err(format!("`{s}` is not a date written YYYY-MM-DD"));
    }
    s.parse::<Date>().map_err(|_| format!("`{s}` is not a date written YYYY-MM-DD"))
}

fn expected(kind: &FieldType) -> &'static str {
    match kind {
        FieldType::Text => "text",
        FieldType::Email => "an email address",
        FieldType::Money => "an amount of money in pounds",
        FieldType::Number => "a number",
        FieldType::Integer => "a whole number",
        FieldType::Boolean => "true or false",
        FieldType::Date => "a date written YYYY-MM-DD",
        FieldType::Choice(_) => "one of the listed choices",
    }
}

fn email(s: &str) -> Result<String, String> {
    let s = s.trim();
    let ok = match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
                && !domain.contains('@')
        }
        None => false,
    };
    if ok { Ok(s.to_string()) } else { Err(format!("`{s}` is not an email address")) }
}

/// Pounds (a number, or text like "£1,250.50") to pence.
fn pence(input: &Input) -> Result<i64, String> {
    const BAD: &str = "must be an amount of money in pounds, like 1250 or 1250.50";
    let text = match input {
        Input::Int(n) => return n.checked_mul(100).filter(|p| *p >= 0).ok_or_else(|| BAD.to_string()),
        Input::Float(f) => format!("{f}"),
        Input::Text(s) => without_thousands_separators(s.trim().trim_start_matches('£')).ok_or(BAD)?,
        _ => return Err(BAD.into()),
    };
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text.as_str(), ""),
    };
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(BAD.into());
    }
    let whole: i64 = whole.parse().map_err(|_| BAD.to_string())?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| BAD.to_string())? };
    whole.checked_mul(100).and_then(|p| p.checked_add(frac)).ok_or_else(|| BAD.to_string())
}

/// `s` with its thousands separators taken out, when every comma in it is one: in the
/// whole pounds, each followed by exactly three digits, the first after one to three
/// ("1,250.50", "12,345,678"). `None` for a comma anywhere else ("1,2,3" is not £123).
fn without_thousands_separators(s: &str) -> Option<String> {
    let (whole, rest) = s.find('.').map_or((s, ""), |dot| s.split_at(dot));
    if !whole.contains(',') {
        return (!rest.contains(',')).then(|| s.to_string());
    }
    let mut groups = whole.split(',');
    let first = groups.next().unwrap_or_default();
    let digits = |g: &str| g.bytes().all(|b| b.is_ascii_digit());
    let ok = (1..=3).contains(&first.len())
        && digits(first)
        && groups.all(|g| g.len() == 3 && digits(g))
        && !rest.contains(',');
    ok.then(|| format!("{}{rest}", whole.replace(',', "")))
}

/// The fields `values` would change on `case`, checked against their types: new
/// values, and fields cleared. Refused when a value is wrong, the case is closed, or
/// nothing would change.
pub(crate) fn changes(
    def: &Definition,
    case: &CaseSnapshot,
    values: &[(String, Input)],
) -> Result<(BTreeMap<FieldId, FieldValue>, Vec<FieldId>), Refusal> {
    if def.states[&case.state].terminal {
        return Err(Refusal::NotAvailable(format!("the case is closed (`{}`)", case.state)));
    }
    let mut problems = Vec::new();
    let mut set = BTreeMap::new();
    let mut cleared = Vec::new();
    for (name, input) in values {
        match def.fields.get_key_value(name.as_str()) {
            None => problems.push(unknown_field(def, name)),
            Some((id, field)) => match check(field, input) {
                Ok(Some(v)) => {
                    if case.fields.get(id) != Some(&v) {
                        set.insert(id.clone(), v);
                    }
                }
                Ok(None) => {
                    if case.fields.contains_key(id) {
                        cleared.push(id.clone());
                    }
                }
                Err(m) => problems.push(Problem { field: Some(name.clone()), message: m }),
            },
        }
    }
    if !problems.is_empty() {
        return Err(Refusal::Invalid(problems));
    }
    if set.is_empty() && cleared.is_empty() {
        return Err(Refusal::NotAvailable("nothing to change: the fields already hold these values".into()));
    }
    Ok((set, cleared))
}

pub(crate) fn unknown_field(def: &Definition, name: &str) -> Problem {
    Problem {
        field: Some(name.to_string()),
        message: format!(
            "is not a field of this workflow ({})",
            crate::diagnostics::hint_for(name, "fields", def.fields.keys().map(|k| k.as_str()))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: FieldType) -> Field {
        Field { kind, title: "x".into(), description: None, required: false, amend: None }
    }

    #[test]
    fn money_is_exact_pence() {
        let f = field(FieldType::Money);
        assert_eq!(check(&f, &Input::Text("£1,250.5".into())), Ok(Some(FieldValue::Pence(125050))));
        assert_eq!(check(&f, &Input::Float(0.1)), Ok(Some(FieldValue::Pence(10))));
        assert_eq!(check(&f, &Input::Int(500000)), Ok(Some(FieldValue::Pence(50000000))));
        assert!(check(&f, &Input::Float(1.005)).is_err());
        assert!(check(&f, &Input::Int(-1)).is_err());
        assert!(check(&f, &Input::Text("lots".into())).is_err());
    }

    #[test]
    fn commas_in_money_are_thousands_separators_only() {
        let f = field(FieldType::Money);
        let pence = |s: &str| check(&f, &Input::Text(s.into()));
        assert_eq!(pence("1,250.50"), Ok(Some(FieldValue::Pence(125050))));
        assert_eq!(pence("£12,345,678"), Ok(Some(FieldValue::Pence(1234567800))));
        assert_eq!(pence("999,999.99"), Ok(Some(FieldValue::Pence(99999999))));
        assert_eq!(pence("1250"), Ok(Some(FieldValue::Pence(125000))));
        // A comma anywhere else is not a way of writing pounds: refused, not read as 123.
        for wrong in ["1,2,3", "1,25", "12,3456", "1234,567", ",250", "250,", "1,,250", "1,250,5", "1.250,50", "0.1,5"]
        {
            assert!(pence(wrong).is_err(), "{wrong} was read as {:?}", pence(wrong));
        }
    }

    #[test]
    fn types_are_enforced() {
        assert!(check(&field(FieldType::Date), &Input::Text("2027-02-30".into())).is_err());
        assert!(check(&field(FieldType::Date), &Input::Int(2027)).is_err());
        assert!(check(&field(FieldType::Email), &Input::Text("not an email".into())).is_err());
        assert!(check(&field(FieldType::Choice(vec!["a".into()])), &Input::Text("b".into())).is_err());
        let required = Field { required: true, ..field(FieldType::Text) };
        assert_eq!(check(&required, &Input::Text("  ".into())), Err("is required".into()));
    }
}

//! CEL expressions for `when` and `rule`: compiled and checked when the workflow loads,
//! evaluated against a case.
//!
//! Dates are CEL timestamps at 00:00 UTC of the calendar date, so comparing two dates
//! compares days whatever the time zone; `today` is the date in the workflow's zone.
//! Calendar arithmetic is done by functions (`add_months(today, 6)`) because CEL's own
//! durations are fixed lengths and a month is not.

use crate::calendar::Calendar;
use crate::values::{FieldType, ParamValue};
use cel::common::ast::{EntryExpr, Expr as Node};
use cel::common::types::{CelBool, CelDouble, CelInt, CelMap, CelMapKey as Key, CelNull, CelString, CelTimestamp};
use cel::common::value::Val;
use cel::objects::Value;
use cel::{Context, ExecutionError, IdedExpr, Program};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use jiff::civil::Date;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::Arc;

/// A compiled CEL expression.
#[derive(Clone)]
pub struct Expr {
    text: String,
    program: Arc<Program>,
    reads: Reads,
}

/// The case fields an expression reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Reads {
    /// No field.
    #[default]
    None,
    /// These fields, by id (`case.fields.<id>`).
    Fields(BTreeSet<String>),
    /// Every field: the expression reads `case` or `case.fields` as a whole.
    Every,
}

impl Reads {
    /// Whether `field` is among what is read.
    pub fn includes(&self, field: &str) -> bool {
        match self {
            Reads::None => false,
            Reads::Fields(f) => f.contains(field),
            Reads::Every => true,
        }
    }

    fn add(&mut self, field: Option<&str>) {
        match (std::mem::take(self), field) {
            (Reads::Every, _) | (_, None) => *self = Reads::Every,
            (Reads::None, Some(f)) => *self = Reads::Fields(BTreeSet::from([f.to_string()])),
            (Reads::Fields(mut set), Some(f)) => {
                set.insert(f.to_string());
                *self = Reads::Fields(set);
            }
        }
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({:?})", self.text)
    }
}

impl Expr {
    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The case fields it reads.
    pub fn reads(&self) -> &Reads {
        &self.reads
    }
}

/// What an expression may name: the workflow's fields and params.
pub(crate) struct Scope<'a> {
    pub fields: Vec<(&'a str, &'a FieldType)>,
    pub params: Vec<(&'a str, &'a ParamValue)>,
    pub calendar: Option<Arc<Calendar>>,
}

/// Functions Gatehouse adds to CEL.
pub const FUNCTIONS: &[&str] =
    &["add_days", "add_months", "add_years", "add_working_days", "months_between", "days_between"];

const STDLIB: &[&str] = &[
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bytes",
    "bool",
    "timestamp",
    "duration",
    "type",
    "dyn",
    "max",
    "min",
    "getFullYear",
    "getMonth",
    "getDate",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "lowerAscii",
    "upperAscii",
    "trim",
];

/// Compile `text`, check every name in it against `scope`, and try it on sample values
/// of the declared types so that type errors are found now rather than on a live case.
pub(crate) fn compile(text: &str, scope: &Scope) -> Result<Expr, String> {
    let program = Program::compile(text).map_err(|e| {
        let msg = e.to_string();
        format!("CEL does not compile: {}", msg.lines().next().unwrap_or(&msg).trim())
    })?;
    let mut problems = Vec::new();
    check_names(program.expression(), scope, &mut BTreeSet::new(), &mut problems);
    if let Some(p) = problems.into_iter().next() {
        return Err(p);
    }
    let mut reads = Reads::None;
    fields_read(program.expression(), &BTreeSet::new(), &mut reads);
    let expr = Expr { text: text.to_string(), program: Arc::new(program), reads };
    let bindings = Bindings::sample(scope);
    match evaluate(&expr, &bindings) {
        Ok(Value::Bool(_)) => Ok(expr),
        Ok(other) => Err(format!("must be true or false, but gives {}", type_name(&other))),
        Err(ExecutionError::NoSuchOverload(o)) => Err(format!("type error: {o}")),
        Err(e @ (ExecutionError::UnsupportedBinaryOperator(..) | ExecutionError::ValuesNotComparable(..))) => {
            Err(format!("type error: {e}"))
        }
        Err(ExecutionError::UndeclaredReference(name)) => Err(format!("unknown function or name `{name}`")),
        // Anything else (division by zero on sample values, say) is a property of the
        // sample, not of the expression.
        Err(_) => Ok(expr),
    }
}

/// What an expression sees (`case`, `params`, `today`, `now`, and the workflow's
/// calendar for `add_working_days`), as a CEL context built once: the values are CEL's
/// own, borrowing the case's text, so evaluating an expression builds nothing.
pub struct Bindings<'v> {
    context: Context<'v, 'v>,
}

/// A field value as CEL sees it.
pub enum CelField<'a> {
    /// Text, email, choice.
    Text(&'a str),
    /// Money (in pounds) and numbers.
    Number(f64),
    /// Integers.
    Integer(i64),
    /// Booleans.
    Bool(bool),
    /// Dates.
    Date(Date),
}

impl<'v> Bindings<'v> {
    /// Bindings for a case in `state` with `fields`, at `now` in zone `tz`, with the
    /// workflow's `calendar` if it has one.
    pub fn new(
        state: &'v str,
        fields: impl Iterator<Item = (&'v str, CelField<'v>)>,
        params: &[(&'v str, &'v ParamValue)],
        now: &jiff::Zoned,
        calendar: Option<Arc<Calendar>>,
    ) -> Bindings<'v> {
        let fields: HashMap<Key<'v>, Box<dyn Val + 'v>> = fields.map(|(k, v)| (key(k), cel_field(v))).collect();
        let case: HashMap<Key<'v>, Box<dyn Val + 'v>> = [
            (key("state"), Box::new(CelString::from(state)) as Box<dyn Val + 'v>),
            (key("fields"), Box::new(CelMap::from(fields))),
        ]
        .into_iter()
        .collect();
        let params: HashMap<Key<'v>, Box<dyn Val + 'v>> =
            params.iter().map(|(k, v)| (key(k), param_value(v))).collect();
        let today = date_val(now.date());
        let now: Box<dyn Val + 'v> = match DateTime::from_timestamp(now.timestamp().as_second(), 0) {
            Some(t) => Box::new(CelTimestamp::from(t.fixed_offset())),
            None => Box::new(CelNull),
        };
        let mut context = Context::with_env(ENV.clone());
        context.add_variable_as_val("case", Box::new(CelMap::from(case)));
        context.add_variable_as_val("params", Box::new(CelMap::from(params)));
        context.add_variable_as_val("today", today);
        context.add_variable_as_val("now", now);
        // Working days need the workflow's calendar, so this one function is added per
        // case, and only for workflows that have a calendar.
        if let Some(cal) = calendar {
            let _ = context.add_function("add_working_days", move |t: Ts, n: Value| -> CelResult<Ts> {
                let d = cal
                    .add_working_days(to_date(t)?, whole(&n)?)
                    .map_err(|e| ExecutionError::function_error("add_working_days", e))?;
                Ok(to_ts(d))
            });
        }
        Bindings { context }
    }

    fn sample(scope: &'v Scope<'v>) -> Bindings<'v> {
        let fields = scope.fields.iter().map(|(k, t)| {
            let v = match t {
                FieldType::Text | FieldType::Email => CelField::Text("sample"),
                FieldType::Choice(c) => CelField::Text(c.first().map(String::as_str).unwrap_or("")),
                FieldType::Money | FieldType::Number => CelField::Number(1000.0),
                FieldType::Integer => CelField::Integer(1),
                FieldType::Boolean => CelField::Bool(true),
                FieldType::Date => CelField::Date(jiff::civil::date(2026, 6, 1)),
            };
            (*k, v)
        });
        let now = jiff::civil::date(2026, 1, 5).at(9, 0, 0, 0).to_zoned(jiff::tz::TimeZone::UTC).expect("fixed date");
        Bindings::new("sample", fields, &scope.params, &now, scope.calendar.clone())
    }
}

/// Evaluate to a boolean. An error says, in words, why the expression could not be
/// decided (usually a field that is not set yet).
pub fn evaluate_bool(expr: &Expr, bindings: &Bindings) -> Result<bool, String> {
    match evaluate(expr, bindings) {
        Ok(Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("gives {} instead of true or false", type_name(&other))),
        Err(ExecutionError::NoSuchKey(k)) => Err(format!("`{k}` is not set")),
        Err(e) => Err(e.to_string()),
    }
}

/// CEL's standard library and Gatehouse's date functions, built once: building an
/// environment is far dearer than evaluating an expression.
static ENV: std::sync::LazyLock<Arc<cel::Env>> = std::sync::LazyLock::new(|| Arc::new(date_env()));

fn date_env() -> cel::Env {
    use cel::common::types::{CelDouble, CelInt, CelTimestamp};
    fn days_i(t: &CelTimestamp, n: &CelInt) -> CelResult<CelTimestamp> {
        shift(*t.inner(), jiff::Span::new().try_days(*n.inner())).map(CelTimestamp::from)
    }
    fn days_f(t: &CelTimestamp, n: &CelDouble) -> CelResult<CelTimestamp> {
        shift(*t.inner(), jiff::Span::new().try_days(whole_f(*n.inner())?)).map(CelTimestamp::from)
    }
    fn months_i(t: &CelTimestamp, n: &CelInt) -> CelResult<CelTimestamp> {
        shift(*t.inner(), jiff::Span::new().try_months(*n.inner())).map(CelTimestamp::from)
    }
    fn months_f(t: &CelTimestamp, n: &CelDouble) -> CelResult<CelTimestamp> {
        shift(*t.inner(), jiff::Span::new().try_months(whole_f(*n.inner())?)).map(CelTimestamp::from)
    }
    fn years_i(t: &CelTimestamp, n: &CelInt) -> CelResult<CelTimestamp> {
        shift(*t.inner(), jiff::Span::new().try_years(*n.inner())).map(CelTimestamp::from)
    }
    fn years_f(t: &CelTimestamp, n: &CelDouble) -> CelResult<CelTimestamp> {
        shift(*t.inner(), jiff::Span::new().try_years(whole_f(*n.inner())?)).map(CelTimestamp::from)
    }
    fn months_between(a: &CelTimestamp, b: &CelTimestamp) -> CelResult<CelInt> {
        let span = to_date(*a.inner())?
            .until((jiff::Unit::Month, to_date(*b.inner())?))
            .map_err(|e| ExecutionError::function_error("months_between", e))?;
        Ok(CelInt::from(span.get_months() as i64 + 12 * span.get_years() as i64))
    }
    fn days_between(a: &CelTimestamp, b: &CelTimestamp) -> CelResult<CelInt> {
        let span = to_date(*a.inner())?
            .until((jiff::Unit::Day, to_date(*b.inner())?))
            .map_err(|e| ExecutionError::function_error("days_between", e))?;
        Ok(CelInt::from(span.get_days() as i64))
    }
    let mut env = cel::Env::stdlib();
    // The names are Gatehouse's own, so none can clash with the standard library.
    let declared = [
        cel::add_overload!(env, fn days_i: (CelTimestamp, CelInt) -> Result<CelTimestamp>, name = "add_days", id = "add_days_int"),
        cel::add_overload!(env, fn days_f: (CelTimestamp, CelDouble) -> Result<CelTimestamp>, name = "add_days", id = "add_days_double"),
        cel::add_overload!(env, fn months_i: (CelTimestamp, CelInt) -> Result<CelTimestamp>, name = "add_months", id = "add_months_int"),
        cel::add_overload!(env, fn months_f: (CelTimestamp, CelDouble) -> Result<CelTimestamp>, name = "add_months", id = "add_months_double"),
        cel::add_overload!(env, fn years_i: (CelTimestamp, CelInt) -> Result<CelTimestamp>, name = "add_years", id = "add_years_int"),
        cel::add_overload!(env, fn years_f: (CelTimestamp, CelDouble) -> Result<CelTimestamp>, name = "add_years", id = "add_years_double"),
        cel::add_overload!(env, fn months_between: (CelTimestamp, CelTimestamp) -> Result<CelInt>, name = "months_between", id = "months_between"),
        cel::add_overload!(env, fn days_between: (CelTimestamp, CelTimestamp) -> Result<CelInt>, name = "days_between", id = "days_between"),
    ];
    for d in declared {
        d.expect("Gatehouse's CEL functions have unique names");
    }
    env
}

fn evaluate(expr: &Expr, b: &Bindings) -> Result<Value, ExecutionError> {
    expr.program.execute(&b.context)
}

type Ts = DateTime<FixedOffset>;
type CelResult<T> = Result<T, ExecutionError>;

/// A whole number from an int, or from a double with no fraction: params are numbers,
/// so `add_months(today, params.notice_months)` must work.
fn whole(n: &Value) -> CelResult<i64> {
    match n {
        Value::Int(i) => Ok(*i),
        Value::UInt(u) => i64::try_from(*u).map_err(|e| ExecutionError::function_error("date arithmetic", e)),
        Value::Float(f) => whole_f(*f),
        other => Err(ExecutionError::function_error(
            "date arithmetic",
            format!("needs a whole number, got {}", type_name(other)),
        )),
    }
}

fn whole_f(f: f64) -> CelResult<i64> {
    if f.fract() == 0.0 && f.abs() < 1e9 {
        Ok(f as i64)
    } else {
        Err(ExecutionError::function_error("date arithmetic", format!("needs a whole number, got {f}")))
    }
}

fn shift(t: Ts, span: Result<jiff::Span, jiff::Error>) -> CelResult<Ts> {
    let err = |e: jiff::Error| ExecutionError::function_error("date arithmetic", e);
    let d = to_date(t)?.checked_add(span.map_err(err)?).map_err(err)?;
    Ok(to_ts(d))
}

fn to_date(t: Ts) -> CelResult<Date> {
    use chrono::Datelike;
    let d = t.date_naive();
    Date::new(d.year() as i16, d.month() as i8, d.day() as i8).map_err(|e| ExecutionError::function_error("date", e))
}

fn to_ts(d: Date) -> Ts {
    let naive = NaiveDate::from_ymd_opt(d.year().into(), d.month() as u32, d.day() as u32)
        .and_then(|n| n.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    FixedOffset::east_opt(0).expect("zero offset").from_utc_datetime(&naive)
}

/// A date as a CEL value (a timestamp at 00:00 UTC of that day).
fn date_val<'v>(d: Date) -> Box<dyn Val + 'v> {
    Box::new(CelTimestamp::from(to_ts(d)))
}

/// A map key naming a variable, field or param.
fn key(name: &str) -> Key<'_> {
    Key::String(CelString::from(name))
}

fn cel_field(v: CelField<'_>) -> Box<dyn Val + '_> {
    match v {
        CelField::Text(s) => Box::new(CelString::from(s)),
        CelField::Number(n) => Box::new(CelDouble::from(n)),
        CelField::Integer(n) => Box::new(CelInt::from(n)),
        CelField::Bool(b) => Box::new(CelBool::from(b)),
        CelField::Date(d) => date_val(d),
    }
}

fn param_value(v: &ParamValue) -> Box<dyn Val + '_> {
    match v {
        ParamValue::Number(n) => Box::new(CelDouble::from(*n)),
        ParamValue::Text(s) => Box::new(CelString::from(s.as_str())),
        ParamValue::Bool(b) => Box::new(CelBool::from(*b)),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Int(_) | Value::UInt(_) => "a whole number",
        Value::Float(_) => "a number",
        Value::String(_) => "text",
        Value::Timestamp(_) => "a date",
        Value::Null => "null",
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        _ => "a value",
    }
}

/// Report every name the expression uses that the scope does not declare.
fn check_names(e: &IdedExpr, scope: &Scope, bound: &mut BTreeSet<String>, out: &mut Vec<String>) {
    match &e.expr {
        Node::Ident(name) => check_path(&[name.as_str()], scope, bound, out),
        Node::Select(sel) => match select_path(e) {
            Some(path) => check_path(&path, scope, bound, out),
            None => check_names(&sel.operand, scope, bound, out),
        },
        Node::Call(call) => {
            let name = call.func_name.as_str();
            let operator = name.starts_with('_') || name.starts_with('@') || name.starts_with('!');
            if !operator && !FUNCTIONS.contains(&name) && !STDLIB.contains(&name) {
                let hint = crate::diagnostics::did_you_mean(name, FUNCTIONS.iter().chain(STDLIB).copied())
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                out.push(format!("unknown function `{name}`{hint}"));
            }
            if name == "add_working_days" && scope.calendar.is_none() {
                out.push("`add_working_days` needs the workflow to name a `calendar:`".into());
            }
            if let Some(t) = &call.target {
                check_names(t, scope, bound, out);
            }
            for a in &call.args {
                check_names(a, scope, bound, out);
            }
        }
        Node::Comprehension(c) => {
            check_names(&c.iter_range, scope, bound, out);
            let mut inner = bound.clone();
            inner.insert(c.iter_var.clone());
            if let Some(v) = &c.iter_var2 {
                inner.insert(v.clone());
            }
            inner.insert(c.accu_var.clone());
            check_names(&c.accu_init, scope, &mut inner, out);
            check_names(&c.loop_cond, scope, &mut inner, out);
            check_names(&c.loop_step, scope, &mut inner, out);
            check_names(&c.result, scope, &mut inner, out);
        }
        Node::List(l) => l.elements.iter().for_each(|x| check_names(x, scope, bound, out)),
        Node::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    check_names(&me.key, scope, bound, out);
                    check_names(&me.value, scope, bound, out);
                }
            }
        }
        Node::Struct(_) => out.push("message literals are not supported".into()),
        Node::Literal(_) | Node::Unspecified => {}
    }
}

/// Add to `out` the case fields `e` reads: `case.fields.<id>` names one; `case` or
/// `case.fields` on its own (passed to a function, say) reads them all. Names bound by a
/// comprehension are not the case's.
fn fields_read(e: &IdedExpr, bound: &BTreeSet<String>, out: &mut Reads) {
    let path = match &e.expr {
        Node::Ident(_) | Node::Select(_) => select_path(e),
        _ => None,
    };
    if let Some(path) = path {
        if path[0] == "case" && !bound.contains("case") {
            match (path.get(1), path.get(2)) {
                (Some(&"state"), _) => {}
                (Some(&"fields"), Some(f)) => out.add(Some(f)),
                _ => out.add(None),
            }
        }
        return;
    }
    match &e.expr {
        Node::Select(sel) => fields_read(&sel.operand, bound, out),
        Node::Call(call) => {
            call.target.iter().for_each(|t| fields_read(t, bound, out));
            call.args.iter().for_each(|a| fields_read(a, bound, out));
        }
        Node::Comprehension(c) => {
            fields_read(&c.iter_range, bound, out);
            let mut inner = bound.clone();
            inner.insert(c.iter_var.clone());
            inner.extend(c.iter_var2.clone());
            inner.insert(c.accu_var.clone());
            for part in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                fields_read(part, &inner, out);
            }
        }
        Node::List(l) => l.elements.iter().for_each(|x| fields_read(x, bound, out)),
        Node::Map(m) => {
            for entry in &m.entries {
                if let EntryExpr::MapEntry(me) = &entry.expr {
                    fields_read(&me.key, bound, out);
                    fields_read(&me.value, bound, out);
                }
            }
        }
        _ => {}
    }
}

/// `case.fields.x` as ["case", "fields", "x"]; None when the chain does not start at a name.
fn select_path(e: &IdedExpr) -> Option<Vec<&str>> {
    match &e.expr {
        Node::Ident(n) => Some(vec![n.as_str()]),
        Node::Select(s) => {
            let mut p = select_path(&s.operand)?;
            p.push(s.field.as_str());
            Some(p)
        }
        _ => None,
    }
}

fn check_path(path: &[&str], scope: &Scope, bound: &BTreeSet<String>, out: &mut Vec<String>) {
    let root = path[0];
    if bound.contains(root) || root == "today" || root == "now" {
        return;
    }
    match root {
        "case" => match path.get(1) {
            None | Some(&"state") => {}
            Some(&"fields") => {
                if let Some(f) = path.get(2)
                    && !scope.fields.iter().any(|(k, _)| k == f)
                {
                    let hint = crate::diagnostics::hint_for(f, "fields", scope.fields.iter().map(|(k, _)| *k));
                    out.push(format!("unknown field `{f}` in `case.fields.{f}` ({hint})"));
                }
            }
            Some(other) => out.push(format!("`case.{other}` does not exist (use `case.fields.<id>` or `case.state`)")),
        },
        "params" => {
            if let Some(p) = path.get(1)
                && !scope.params.iter().any(|(k, _)| k == p)
            {
                let hint = crate::diagnostics::hint_for(p, "params", scope.params.iter().map(|(k, _)| *k));
                out.push(format!("unknown param `{p}` ({hint})"));
            }
        }
        other => {
            let hint = crate::diagnostics::did_you_mean(other, ["case", "params", "today", "now"])
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default();
            out.push(format!("unknown name `{other}`{hint}; expressions can use case, params, today and now"));
        }
    }
}

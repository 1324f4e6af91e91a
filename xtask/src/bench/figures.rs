//! Reading benchmark figures out of what bench binaries print.

/// One measured figure, as printed: the value keeps the digits it was printed with.
#[derive(Debug, PartialEq)]
pub struct Figure {
    pub name: String,
    pub value: String,
    pub unit: String,
}

/// Every figure in `output`, in order: `name: value unit` lines and criterion's
/// `name time: [low mid high]` lines (the middle estimate).
pub fn parse(output: &str) -> Vec<Figure> {
    let mut figures = Vec::new();
    let mut previous = "";
    for line in output.lines() {
        if let Some(figure) = plain(line).or_else(|| criterion(line, previous)) {
            figures.push(figure);
        }
        if !line.trim().is_empty() {
            previous = line;
        }
    }
    figures
}

/// `name: value unit`, the value a number and the unit one word; the name starts the line.
fn plain(line: &str) -> Option<Figure> {
    let (name, rest) = line.split_once(": ")?;
    if name.is_empty() || name.starts_with(char::is_whitespace) || name.contains("  ") {
        return None;
    }
    let [value, unit] = words::<2>(rest)?;
    value.parse::<f64>().ok()?;
    Some(Figure { name: name.to_owned(), value: value.to_owned(), unit: unit.to_owned() })
}

/// Criterion's `name   time:   [1.1 µs 1.2 µs 1.3 µs]`. A long name is printed on a line
/// of its own, with `time:` indented below it.
fn criterion(line: &str, previous: &str) -> Option<Figure> {
    let (name, rest) = line.split_once("time:")?;
    let name = match name.trim() {
        "" => previous.trim(),
        name => name,
    };
    let estimates = rest.trim().strip_prefix('[')?.strip_suffix(']')?;
    let [_, _, value, unit, _, _] = words::<6>(estimates)?;
    value.parse::<f64>().ok()?;
    if name.is_empty() || name.starts_with("Benchmarking") {
        return None;
    }
    Some(Figure { name: name.to_owned(), value: value.to_owned(), unit: unit.to_owned() })
}

/// Exactly `N` whitespace-separated words.
fn words<const N: usize>(text: &str) -> Option<[&str; N]> {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(name: &str, value: &str, unit: &str) -> Figure {
        Figure { name: name.into(), value: value.into(), unit: unit.into() }
    }

    #[test]
    fn reads_plain_and_criterion_lines() {
        let output = "\
running 0 tests
test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out
decide/lcc-submit: 12.5 µs
validate_all_workflows: 3e2 ms
Benchmarking parse/lcc: Warming up for 3.0000 s
parse/lcc               time:   [21.101 µs 21.456 µs 21.800 µs]
                        change: [-1.0% +0.5% +2.0%] (p = 0.40 > 0.05)
Found 3 outliers among 100 measurements (3.00%)
a/rather/long/benchmark/name/that/wraps
                        time:   [1.0000 ms 1.1000 ms 1.2000 ms]
                        thrpt:  [900 elem/s 910 elem/s 920 elem/s]
note: 2 things
";
        assert_eq!(
            parse(output),
            vec![
                figure("decide/lcc-submit", "12.5", "µs"),
                figure("validate_all_workflows", "3e2", "ms"),
                figure("parse/lcc", "21.456", "µs"),
                figure("a/rather/long/benchmark/name/that/wraps", "1.1000", "ms"),
                // FIXME: an ordinary sentence shaped like a figure is taken for one.
                figure("note", "2", "things"),
            ]
        );
    }
}

//! The tables `kubectl get` prints, as the documents show them and as kubectl prints them.
//!
//! A document's table is parsed the way a reader reads it: the header names the columns, and a
//! cell belongs to the column whose header starts at (or, in the documents' slightly misaligned
//! tables, up to two characters after) the cell's start. Blank cells stay blank.

use std::fmt;

/// Header cells may start this many characters after a misaligned document cell.
const MISALIGNMENT: usize = 2;

/// Columns whose values are never compared (they depend on when the command ran).
const VOLATILE: &[&str] = &["AGE"];

/// A parsed `kubectl get` table.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// What was changed from the document's table and why, printed with the step.
    pub adjustments: Vec<String>,
}

/// Words of `line` with the character offset where each starts.
fn words(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

impl Table {
    /// Parses a table: the first non-blank line is the header.
    pub fn parse(text: &str) -> Result<Table, String> {
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header_line = lines.next().ok_or("no table: the output is empty")?;
        let header_words = words(header_line);
        let header: Vec<String> = header_words.iter().map(|(_, w)| w.to_string()).collect();
        let starts: Vec<usize> = header_words.iter().map(|(s, _)| *s).collect();
        let mut rows = Vec::new();
        for line in lines {
            let mut row = vec![String::new(); header.len()];
            for (start, word) in words(line) {
                let column = starts
                    .iter()
                    .rposition(|s| *s <= start + MISALIGNMENT)
                    .ok_or_else(|| format!("cell {word:?} starts before the first column in {line:?}"))?;
                if !row[column].is_empty() {
                    return Err(format!(
                        "two cells ({:?} and {word:?}) fall under column {} in {line:?}",
                        row[column], header[column]
                    ));
                }
                row[column] = word.to_string();
            }
            rows.push(row);
        }
        Ok(Table {
            header,
            rows,
            adjustments: Vec::new(),
        })
    }

    /// Parses a table copied from a document; a typo in the test is a bug, so this panics.
    pub fn doc(text: &str) -> Table {
        Table::parse(text).unwrap_or_else(|e| panic!("the document's table does not parse: {e}\n{text}"))
    }

    fn column(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in {:?}", self.header))
    }

    /// Renames a column (the document predates the current header), saying why.
    pub fn rename(mut self, from: &str, to: &str, why: &str) -> Table {
        let i = self.column(from);
        self.header[i] = to.to_string();
        self.adjustments.push(format!("column {from} is {to}: {why}"));
        self
    }

    /// Inserts a column the document does not print, with one value per row, saying why.
    pub fn insert_after(mut self, after: &str, name: &str, values: &[&str], why: &str) -> Table {
        assert_eq!(values.len(), self.rows.len(), "one {name} value per row");
        let i = self.column(after) + 1;
        self.header.insert(i, name.to_string());
        for (row, value) in self.rows.iter_mut().zip(values) {
            row.insert(i, value.to_string());
        }
        self.adjustments
            .push(format!("column {name} added with {values:?}: {why}"));
        self
    }

    /// Adds a row the document leaves out, saying why.
    pub fn with_row(mut self, cells: &[&str], why: &str) -> Table {
        assert_eq!(cells.len(), self.header.len(), "one cell per column");
        self.rows.push(cells.iter().map(|c| c.to_string()).collect());
        self.adjustments.push(format!("row {} added: {why}", cells[0]));
        self
    }

    /// Sets one cell of the row named `name`, saying why.
    pub fn with_cell(mut self, name: &str, column: &str, value: &str, why: &str) -> Table {
        let c = self.column(column);
        let row = self
            .rows
            .iter_mut()
            .find(|r| r[0] == name)
            .unwrap_or_else(|| panic!("no row {name}"));
        row[c] = value.to_string();
        self.adjustments.push(format!("{name} {column} is {value:?}: {why}"));
        self
    }

    /// Says how `actual` differs from this expected table: the same columns in the same order,
    /// the same rows (matched by NAME; kubectl lists by name, the documents not always), and the
    /// same cells except AGE. `None` when they match.
    pub fn difference(&self, actual: &Table) -> Option<String> {
        if self.header != actual.header {
            return Some(format!(
                "columns differ: expected {:?}, got {:?}",
                self.header, actual.header
            ));
        }
        let names = |t: &Table| {
            let mut n: Vec<String> = t.rows.iter().map(|r| r[0].clone()).collect();
            n.sort();
            n
        };
        if names(self) != names(actual) {
            return Some(format!(
                "rows differ: expected {:?}, got {:?}",
                names(self),
                names(actual)
            ));
        }
        for row in &self.rows {
            let got = actual.rows.iter().find(|r| r[0] == row[0]).expect("same names");
            for (i, column) in self.header.iter().enumerate() {
                if !VOLATILE.contains(&column.as_str()) && row[i] != got[i] {
                    return Some(format!("{} {column}: expected {:?}, got {:?}", row[0], row[i], got[i]));
                }
            }
        }
        None
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        for line in std::iter::once(&self.header).chain(&self.rows) {
            let cells: Vec<String> = line.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            writeln!(f, "{}", cells.join("   ").trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_cells_stay_blank() {
        let t = Table::doc(
            "NAME                GEN   SCHEDULED   SCHEDULED-GEN   AVAILABLE   AVAILABLE-GEN   AGE
example-placement   1     True        1                                           8s",
        );
        assert_eq!(t.rows[0], ["example-placement", "1", "True", "1", "", "", "8s"]);
    }

    #[test]
    fn a_misaligned_document_row_still_parses() {
        // Doc A: the name is as wide as its column, so the next cell starts one character late.
        let t = Table::doc(
            "NAME                                      UPDATE-RUN               STAGE          APPROVED   APPROVALACCEPTED   AGE
web-app-rollout-v1-21-prod-clusters-before web-app-rollout-v1-21   prod-clusters                                15s",
        );
        assert_eq!(
            t.rows[0],
            [
                "web-app-rollout-v1-21-prod-clusters-before",
                "web-app-rollout-v1-21",
                "prod-clusters",
                "",
                "",
                "15s"
            ]
        );
    }

    #[test]
    fn rows_match_by_name_and_age_is_ignored() {
        let expected = Table::doc("NAME  X   AGE\nb     1   2m\na     2   3m");
        let actual = Table::parse("NAME   X   AGE\na      2   1s\nb      1   1s").unwrap();
        assert_eq!(expected.difference(&actual), None);
        let wrong = Table::parse("NAME   X   AGE\na      2   1s\nb         1s").unwrap();
        assert_eq!(
            expected.difference(&wrong).as_deref(),
            Some("b X: expected \"1\", got \"\"")
        );
    }

    #[test]
    fn adjustments_are_recorded() {
        let t = Table::doc("NAME   A   AGE\nx      1   1s")
            .rename("A", "B", "because")
            .insert_after("B", "C", &["True"], "SD-3");
        assert_eq!(t.header, ["NAME", "B", "C", "AGE"]);
        assert_eq!(t.rows[0], ["x", "1", "True", "1s"]);
        assert_eq!(t.adjustments.len(), 2);
    }
}

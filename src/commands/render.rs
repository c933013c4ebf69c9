//! Text renderings for the headless commands. Pure.

use crate::isolation::matrix::{Cell, Level, Matrix};
use crate::isolation::tenants::Group;
use crate::model::Coverage;
use crate::policy::ConnLine;

/// Aligned `SRC  DST  CONNECTIONS` columns.
pub fn conn_table(lines: &[ConnLine]) -> String {
    let src_width = lines.iter().map(|l| l.src.len()).max().unwrap_or(0).max(3);
    let dst_width = lines.iter().map(|l| l.dst.len()).max().unwrap_or(0).max(3);
    let mut out = format!(
        "{:<src_width$}  {:<dst_width$}  CONNECTIONS\n",
        "SRC", "DST"
    );
    for l in lines {
        let undecided = match l.undecided.is_empty() {
            true => String::new(),
            false => format!("  (undecided: {})", l.undecided),
        };
        out.push_str(&format!(
            "{:<src_width$}  {:<dst_width$}  {}{undecided}\n",
            l.src, l.dst, l.conns
        ));
    }
    out
}

/// netpol-analyzer's array of `{src, dst, conn}` for manifests; on a live cluster an object
/// with the same array as `connections` and what the analysis could not see as `coverage`
/// (always there, so a script meets one shape per input).
pub fn conn_json(lines: &[ConnLine], coverage: Option<&Coverage>) -> String {
    let items: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            let mut item =
                serde_json::json!({"src": l.src, "dst": l.dst, "conn": l.conns.to_string()});
            // Only when a tier rule's nodes/domainNames peer leaves something open to question.
            if !l.undecided.is_empty() {
                item["undecided"] = serde_json::Value::from(l.undecided.to_string());
            }
            item
        })
        .collect();
    with_coverage("connections", serde_json::Value::from(items), coverage)
}

/// `value` alone, or `{key: value, "coverage": ...}` on a live cluster; pretty, one newline.
pub fn with_coverage(key: &str, value: serde_json::Value, coverage: Option<&Coverage>) -> String {
    let out = match coverage {
        None => value,
        Some(coverage) => serde_json::json!({key: value, "coverage": coverage.to_json()}),
    };
    serde_json::to_string_pretty(&out).unwrap_or_default() + "\n"
}

/// `warning: ...` lines (then a blank line) for what a live cluster's analysis could not see;
/// empty when there is nothing to say.
pub fn coverage_text(coverage: Option<&Coverage>) -> String {
    let cni = coverage.and_then(|c| c.cni.as_ref()).map(|c| c.line());
    let lines = coverage.map(Coverage::lines).unwrap_or_default();
    if lines.is_empty() && cni.is_none() {
        return String::new();
    }
    // Which CNI's order applied, first: it changes what the rest means.
    let mut out: String = cni.map(|l| l + "\n").unwrap_or_default();
    out.extend(lines.iter().map(|l| format!("warning: {l}\n")));
    out.push('\n');
    out
}

/// The matrix as a grid (rows: from, columns: to), then the details of every open or partial cell.
pub fn matrix_text(matrix: &Matrix) -> String {
    matrix_text_scoped(matrix, false)
}

/// As [`matrix_text`]; `scoped`: only some namespaces are seen, so one more row and column,
/// `other ns`, whose cells are all unknown.
pub fn matrix_text_scoped(matrix: &Matrix, scoped: bool) -> String {
    let grid = crate::isolation::matrix::shown_grid(matrix, scoped);
    let (rows, cols) = (&grid.rows, &grid.cols);
    let names: Vec<&str> = matrix.groups.iter().map(Group::label).collect();
    const CORNER: &str = "from \\ to";
    let width = names
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(0)
        .max(CORNER.len())
        + 2;
    let cell_width = 11.max(width);
    let mut out = format!("{CORNER:<width$}");
    for name in cols {
        out.push_str(&format!("{name:<cell_width$}"));
    }
    out.push('\n');
    for (i, name) in rows.iter().enumerate() {
        out.push_str(&format!("{name:<width$}"));
        for cell in grid.row(i) {
            out.push_str(&format!(
                "{:<cell_width$}",
                format!("{} {}", cell.level.symbol(), cell.level.as_str())
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!("\n{} closed   {} partial   {} open   (ext-in: from outside the cluster into the row's group; ext-out: from it to outside)\n",
        Level::Closed.symbol(), Level::Partial.symbol(), Level::Open.symbol()));
    if scoped {
        out.push_str(&format!(
            "{} unknown: `{}` stands for the namespaces you cannot see\n",
            Level::Unknown.symbol(),
            crate::isolation::matrix::UNSEEN
        ));
    }
    let mut details = Vec::new();
    for (i, from) in names.iter().enumerate() {
        for (j, to) in names.iter().enumerate() {
            details.push(detail(from, to, &matrix.cells[i][j]));
        }
        details.push(detail("outside", from, &matrix.external_in[i]));
        details.push(detail(from, "outside", &matrix.external_out[i]));
    }
    let details: Vec<String> = details.into_iter().flatten().collect();
    if !details.is_empty() {
        out.push_str("\nOpen paths:\n");
        for line in details {
            out.push_str(&line);
        }
    }
    let unknown: Vec<String> = (names.iter().enumerate())
        .flat_map(|(i, from)| {
            names
                .iter()
                .enumerate()
                .map(move |(j, to)| (i, from, j, to))
        })
        .filter_map(|(i, from, j, to)| {
            let cell = &matrix.cells[i][j];
            (cell.level == Level::Unknown && !cell.undecided_reasons.is_empty()).then(|| {
                format!(
                    "  {from} → {to}: unknown, {} undecided: {}\n",
                    cell.undecided,
                    cell.undecided_reasons.join("; ")
                )
            })
        })
        .collect();
    if !unknown.is_empty() {
        out.push_str("\nUnknown cells:\n");
        out.extend(unknown);
    }
    out
}

fn detail(from: &str, to: &str, cell: &Cell) -> Option<String> {
    (!matches!(cell.level, Level::Closed | Level::Unknown)).then(|| {
        format!(
            "  {from} → {to}: {} ({} of {} workload-class pairs): {}\n",
            cell.level.as_str(),
            cell.pairs_allowed,
            cell.pairs_total,
            cell.conns
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Count, TierKind, Unevaluated};

    #[test]
    fn manifests_keep_netpol_analyzers_array_and_a_live_cluster_gets_one_object() {
        let array: serde_json::Value = serde_json::from_str(&conn_json(&[], None)).unwrap();
        assert_eq!(array, serde_json::json!([]));
        assert_eq!(coverage_text(None), "");

        let clean = Coverage::default();
        let object: serde_json::Value =
            serde_json::from_str(&conn_json(&[], Some(&clean))).unwrap();
        assert_eq!(object["connections"], serde_json::json!([]));
        assert_eq!(object["coverage"]["trustworthy"], true);
        assert_eq!(
            coverage_text(Some(&clean)),
            "",
            "nothing to say, nothing said"
        );

        let troubled = Coverage {
            cni: None,
            forbidden: vec![TierKind::AdminNetworkPolicy],
            forbidden_natives: Vec::new(),
            unevaluated: vec![Unevaluated {
                group: "k8s.cni.cncf.io".into(),
                version: "v1beta1".into(),
                kind: "MultiNetworkPolicy".into(),
                count: Count::Objects(4),
            }],
            scope: None,
        };
        assert_eq!(
            coverage_text(Some(&troubled)),
            "warning: AdminNetworkPolicy is served but forbidden to you: the matrix cannot be trusted\n\
             warning: not evaluated: 4 MultiNetworkPolicy: the dataplane may deny what this matrix shows open\n\n"
        );
    }

    #[test]
    fn the_cni_and_why_come_first_in_text_and_json() {
        use crate::isolation::cni::{CniChoice, resolve};
        let calico = resolve(
            CniChoice::Flag(crate::policy::Cni::Calico),
            &Default::default(),
        );
        let coverage = Coverage {
            cni: Some(calico.note()),
            ..Coverage::default()
        };
        assert_eq!(coverage_text(Some(&coverage)), "CNI: Calico (--cni)\n\n");
        let object: serde_json::Value = serde_json::from_str(&with_coverage(
            "findings",
            serde_json::json!([]),
            Some(&coverage),
        ))
        .unwrap();
        assert_eq!(
            object["coverage"]["cni"],
            serde_json::json!({"name": "calico", "source": "flag", "reason": "--cni"})
        );
    }
}

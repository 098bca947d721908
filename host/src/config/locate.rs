//! Finding where a YAML path (`modules[2].config.rules[0].pattern`) is written in the
//! configuration text, so every problem can be reported as `file:line:column`.
//!
//! serde's YAML values carry no positions, so the text is walked once more with a parser
//! that reports spans (saphyr-parser), following mapping keys and sequence indexes.

use saphyr_parser::{Event, Parser};

/// One step of a YAML path.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Split `a.b[2].c` into steps. Keys containing `.` or `[` cannot be named this way; such
/// paths simply go unlocated.
fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key.to_string()));
        }
        while let Some(end) = rest.find(']') {
            match rest[1..end].parse() {
                Ok(i) => out.push(Step::Index(i)),
                Err(_) => return Vec::new(),
            }
            rest = &rest[end + 1..];
        }
    }
    out
}

/// A container being walked: a mapping (with the key whose value comes next) or a
/// sequence (with the index of the item being read).
enum Frame {
    Map { key: Option<String> },
    Seq { index: usize },
}

fn current(stack: &[Frame]) -> Vec<Step> {
    stack
        .iter()
        .filter_map(|f| match f {
            Frame::Map { key } => key.clone().map(Step::Key),
            Frame::Seq { index } => Some(Step::Index(*index)),
        })
        .collect()
}

/// A value ended: its mapping waits for the next key, its sequence moves to the next item.
fn value_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Map { key }) => *key = None,
        Some(Frame::Seq { index }) => *index += 1,
        None => {}
    }
}

/// The 1-based line and column where `path` is written in `text`: the key for a mapping
/// entry, the item for a sequence element. `None` when the path is not in the text (a missing
/// setting) or the text is not valid YAML.
pub(crate) fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let target = steps(path);
    if target.is_empty() {
        return None;
    }
    let mut stack: Vec<Frame> = Vec::new();
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        let at = Some((span.start.line(), span.start.col() + 1));
        // A scalar read where a mapping expects a key is that key.
        if let (Event::Scalar(key, ..), Some(Frame::Map { key: slot @ None })) =
            (&event, stack.last_mut())
        {
            *slot = Some(key.to_string());
            if current(&stack) == target {
                return at;
            }
            continue;
        }
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                if current(&stack) == target {
                    return at;
                }
                stack.push(match event {
                    Event::MappingStart(..) => Frame::Map { key: None },
                    _ => Frame::Seq { index: 0 },
                });
            }
            Event::Scalar(..) | Event::Alias(..) => {
                if current(&stack) == target {
                    return at;
                }
                value_done(&mut stack);
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                value_done(&mut stack);
            }
            Event::StreamEnd | Event::DocumentEnd => break,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "server_name: a\nrc_invites:\n  per_room: {per_second: 1, burst: 2}\nmodules:\n  - module: demo\n    config:\n      rules:\n        - pattern: x\n        - pattern: \"((\"\n  - module: other\n    confg: 1\n";

    #[test]
    fn keys_and_items_are_found_at_any_depth() {
        assert_eq!(locate(TEXT, "server_name"), Some((1, 1)));
        assert_eq!(locate(TEXT, "modules"), Some((4, 1)));
        assert_eq!(locate(TEXT, "modules[1].confg"), Some((11, 5)));
        assert_eq!(locate(TEXT, "modules[1]"), Some((10, 5)));
        assert_eq!(
            locate(TEXT, "modules[0].config.rules[1].pattern"),
            Some((9, 11))
        );
        assert_eq!(locate(TEXT, "rc_invites.per_room.burst"), Some((3, 29)));
    }

    #[test]
    fn missing_paths_and_broken_text_are_unlocated() {
        assert_eq!(locate(TEXT, "listen"), None);
        assert_eq!(locate(TEXT, "modules[5]"), None);
        assert_eq!(locate(TEXT, ""), None);
        assert_eq!(locate("modules: [\n", "modules[0]"), None);
    }
}

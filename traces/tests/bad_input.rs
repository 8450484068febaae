//! Every way a trace can be bad gives an error naming the file, the line
//! (and column where known) and the reason; never a panic.

mod common;

use common::*;
use pmemvm_traces::*;

fn json() -> String {
    String::from_utf8(encode(Format::Json, &header(), &every_kind())).unwrap()
}

fn jsonl() -> String {
    String::from_utf8(encode(Format::Jsonl, &header(), &every_kind())).unwrap()
}

/// Replaces the first occurrence of `from` (which must exist).
fn edit(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "`{from}` not in the trace");
    text.replacen(from, to, 1)
}

fn err(text: &str, name: &str) -> TraceError {
    match decode(text.as_bytes(), name) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

fn line_of(e: &TraceError) -> Option<u64> {
    e.location().and_then(|l| l.line)
}

/// Checks both layouts: the edit is applied to each, the error matches
/// `check` and is located on the line of the edit.
fn both(from: &str, to: &str, check: impl Fn(&TraceError) -> bool) {
    for (text, name) in [(json(), "t.json"), (jsonl(), "t.jsonl")] {
        let bad = edit(&text, from, to);
        let e = err(&bad, name);
        assert!(check(&e), "{name}: unexpected error {e:?}");
        let msg = e.to_string();
        assert!(msg.starts_with(name), "{msg}");
        let at = text.find(from).unwrap();
        let want_line = Some(text[..at].matches('\n').count() as u64 + 1);
        assert_eq!(line_of(&e), want_line, "{name}: {msg}");
    }
}

#[test]
fn not_a_trace() {
    for (text, why) in [
        ("", "empty"),
        ("hello", "does not start with a JSON object"),
        ("[1, 2]", "does not start with a JSON object"),
        ("{}", "\"format\""),
        ("{\"name\": \"pkg\", \"version\": \"1.0\"}\n", "\"format\""),
        (
            "{\"header\": {\"format\": \"other\"}, \"events\": []}",
            "\"format\"",
        ),
    ] {
        let e = err(text, "x.json");
        assert!(matches!(e, TraceError::NotATrace { .. }), "{text}: {e:?}");
        assert!(e.to_string().contains(why), "{text}: {e}");
        assert!(e.to_string().starts_with("x.json"), "{e}");
    }
    let e = err("{\"events\": [], \"header\": {}}", "x.json");
    assert!(
        e.to_string()
            .contains("first key of the document must be \"header\""),
        "{e}"
    );
}

#[test]
fn wrong_version() {
    both("\"version\":1", "\"version\":2", |e| {
        matches!(e, TraceError::UnsupportedVersion { found: 2, .. })
    });
    let e = err(&edit(&json(), "\"version\":1", "\"version\":2"), "t.json");
    assert!(
        e.to_string().contains("unsupported trace format version 2"),
        "{e}"
    );
}

#[test]
fn bad_header_fields() {
    both(
        "\"persistence\":\"mem-ctrl\"",
        "\"persistence\":\"adr\"",
        |e| matches!(e, TraceError::InvalidHeader { .. }),
    );
    both("\"line_size\":64", "\"line_size\":128", |e| {
        matches!(e, TraceError::InvalidHeader { .. })
    });
    both("\"seed\":42", "\"seed\":42,\"extra\":1", |e| {
        matches!(e, TraceError::InvalidHeader { .. })
    });
    both(
        "\"initial_media_sha256\":\"abab",
        "\"initial_media_sha256\":\"ABab",
        |e| matches!(e, TraceError::InvalidHeader { .. }) && e.to_string().contains("lowercase"),
    );
}

#[test]
fn unknown_kind() {
    both(
        "\"kind\":\"sfence\"",
        "\"kind\":\"lfence\"",
        |e| matches!(e, TraceError::UnknownKind { kind, .. } if kind == "lfence"),
    );
    // An unknown kind with fields of its own is still reported as an unknown kind.
    both(
        "\"kind\":\"mfence\"",
        "\"kind\":\"wbinvd\",\"cpu\":1",
        |e| matches!(e, TraceError::UnknownKind { .. }),
    );
}

#[test]
fn seq_not_increasing() {
    both("{\"seq\":5,", "{\"seq\":4,", |e| {
        matches!(
            e,
            TraceError::SeqOrder {
                found: 4,
                expected: 5,
                ..
            }
        )
    });
    both("{\"seq\":1,", "{\"seq\":0,", |e| {
        matches!(
            e,
            TraceError::SeqOrder {
                found: 0,
                expected: 1,
                ..
            }
        )
    });
    both("{\"seq\":7,", "{\"seq\":8,", |e| {
        matches!(
            e,
            TraceError::SeqOrder {
                found: 8,
                expected: 7,
                ..
            }
        )
    });
}

#[test]
fn bad_hex() {
    both("\"data\":\"deadbeef\"", "\"data\":\"deadbeeg\"", |e| {
        matches!(e, TraceError::BadHex { field: "data", .. })
    });
    both("\"data\":\"deadbeef\"", "\"data\":\"DEADBEEF\"", |e| {
        e.to_string().contains("lowercase")
    });
    both("\"addr\":\"0x100000040\"", "\"addr\":\"100000040\"", |e| {
        matches!(e, TraceError::BadHex { field: "addr", .. })
    });
    both("\"init\":\"0000", "\"init\":\"00", |e| {
        matches!(e, TraceError::BadHex { field: "init", .. })
    });
}

#[test]
fn size_mismatch() {
    both("\"size\":4,", "\"size\":3,", |e| {
        matches!(
            e,
            TraceError::SizeMismatch {
                size: 3,
                data_len: 4,
                ..
            }
        )
    });
}

#[test]
fn out_of_range() {
    both(
        "\"addr\":\"0x100000040\",\"offset\":\"0x40\"",
        "\"addr\":\"0x104000040\",\"offset\":\"0x4000040\"",
        |e| {
            matches!(e, TraceError::OutOfRange { .. })
                && e.to_string().contains("outside the device")
        },
    );
    both(
        "\"range\":{\"offset\":\"0x7000\",\"len\":4096}",
        "\"range\":{\"offset\":\"0x3fff000\",\"len\":8192}",
        |e| matches!(e, TraceError::OutOfRange { .. }),
    );
    both("\"port\":\"0xe9\"", "\"port\":\"0x10000\"", |e| {
        matches!(e, TraceError::OutOfRange { .. })
    });
}

#[test]
fn inconsistent_events() {
    let invalid = |what: &'static str| {
        move |e: &TraceError| {
            matches!(e, TraceError::InvalidEvent { .. }) && e.to_string().contains(what)
        }
    };
    both(
        "\"addr\":\"0x100000040\"",
        "\"addr\":\"0x100000041\"",
        invalid("is not device base"),
    );
    both(
        "\"line\":\"0x80\"",
        "\"line\":\"0xc0\"",
        invalid("is not the line of"),
    );
    both(
        "\"kind\":\"sfence\"",
        "\"kind\":\"sfence\",\"port\":\"0x1\"",
        invalid("does not belong"),
    );
    both(",\"rip\":\"0x101234\"", "", invalid("lacks field `rip`"));
    both(
        "\"label\":\"phase#2\"",
        "\"label\":\"\"",
        invalid("empty label"),
    );
    both(
        "\"point\":\"fence:2\"",
        "\"point\":\"fence:0\"",
        invalid("counted from 1"),
    );
    // The ntstore at seq 2 writes line 0x40 again: `init` must not repeat.
    both(
        "\"rip\":\"0x101240\"",
        &format!("\"rip\":\"0x101240\",\"init\":\"{}\"", "11".repeat(64)),
        invalid("repeated"),
    );
    // The rmw is the first write to line 0x80: it needs `init`.
    both(
        &format!(",\"init\":\"{}\"", "5a".repeat(64)),
        "",
        invalid("lacks `init`"),
    );
}

#[test]
fn event_after_power_fail() {
    let mut evs = every_kind();
    let mut text = jsonl();
    evs.push(Event::new(14, EventKind::Sfence));
    text = edit(
        &text,
        "{\"end\":{\"events\":13}}",
        "{\"seq\":14,\"kind\":\"sfence\"}\n{\"end\":{\"events\":14}}",
    );
    let e = err(&text, "t.jsonl");
    assert!(e.to_string().contains("follows the power failure"), "{e}");
    assert_eq!(line_of(&e), Some(15));
}

#[test]
fn syntax_errors_have_columns() {
    let text = edit(
        &json(),
        "{\"seq\":9,\"kind\":\"io\"",
        "{\"seq\":9,\"kind\" \"io\"",
    );
    let e = err(&text, "t.json");
    assert!(matches!(e, TraceError::Syntax { .. }), "{e:?}");
    let loc = e.location().unwrap();
    assert_eq!(loc.line, Some(11));
    assert_eq!(loc.column, Some(17), "{e}");
    assert!(
        e.to_string().starts_with("t.json:11:17: malformed trace"),
        "{e}"
    );

    let text = edit(
        &jsonl(),
        "{\"seq\":9,\"kind\":\"io\"",
        "{\"seq\":9,\"kind\" \"io\"",
    );
    let e = err(&text, "t.jsonl");
    assert!(
        e.to_string().starts_with("t.jsonl:10:17: malformed trace"),
        "{e}"
    );

    let e = err(&edit(&json(), "},\n{\"seq\":8", "}\n{\"seq\":8"), "t.json");
    assert!(e.to_string().contains("expected `,` or `]`"), "{e}");
    let e = err(&edit(&json(), "\n]}", ",\n]}"), "t.json");
    assert!(e.to_string().contains("trailing `,`"), "{e}");
    let e = err(&format!("{}garbage", json()), "t.json");
    assert!(
        e.to_string()
            .contains("after the end of the trace document"),
        "{e}"
    );
    let e = err(&format!("{}{{\"seq\":14}}\n", jsonl()), "t.jsonl");
    assert!(e.to_string().contains("data after the end record"), "{e}");
}

#[test]
fn truncated_anywhere() {
    for (text, name) in [(json(), "t.json"), (jsonl(), "t.jsonl")] {
        // Every cut before the final newline is refused (with the line), and never panics.
        for cut in 0..text.len() - 1 {
            let e = err(&text[..cut], name);
            assert!(e.to_string().starts_with(name), "cut {cut}: {e}");
            if cut > 0 {
                assert!(e.location().is_some(), "cut {cut}: {e}");
            }
        }
        // Cut at a line boundary after the header: the typical killed copy.
        let lines: Vec<&str> = text.lines().collect();
        let cut = lines[..6].join("\n") + "\n";
        let e = err(&cut, name);
        assert!(matches!(e, TraceError::Truncated { .. }), "{name}: {e:?}");
    }
    let e = err(
        &edit(
            &jsonl(),
            "{\"end\":{\"events\":13}}",
            "{\"end\":{\"events\":14}}",
        ),
        "t.jsonl",
    );
    assert!(matches!(e, TraceError::Truncated { .. }), "{e:?}");
}

#[test]
fn reader_stops_after_an_error() {
    let text = edit(&jsonl(), "{\"seq\":5,", "{\"seq\":4,");
    let mut r = TraceReader::from_reader(text.as_bytes(), "t.jsonl").unwrap();
    let results: Vec<Result<Event>> = r.by_ref().collect();
    assert_eq!(results.len(), 5);
    assert!(results[..4].iter().all(|r| r.is_ok()));
    assert!(results[4].is_err());
    assert!(r.next_event().unwrap().is_none());
}

#[test]
fn missing_file() {
    let e = TraceReader::open("/nonexistent/t.json").unwrap_err();
    assert!(matches!(e, TraceError::Io { .. }));
    assert!(e.to_string().starts_with("/nonexistent/t.json"), "{e}");
}

#[test]
fn a_mark_label_longer_than_the_hypercall_takes_is_refused_by_reader_and_writer() {
    let max = pmemvm_abi::hc::MAX_LABEL_LEN as usize;
    let long = "l".repeat(max + 1);
    // The reader.
    let to = format!("\"label\":\"{long}\"");
    both("\"label\":\"phase#2\"", &to, |e| {
        e.to_string()
            .contains("a mark label of 257 bytes (at most 256)")
    });
    // The writer, on an otherwise valid trace; the longest label is taken.
    for (label, ok) in [(long.as_str(), false), (&long[..max], true)] {
        let event = Event::new(1, EventKind::Mark(Mark::new(label)));
        let dir = tempfile::tempdir().expect("dir");
        let mut w = TraceWriter::create(dir.path().join("t.jsonl"), &header()).expect("create");
        assert_eq!(w.write(&event).is_ok(), ok, "{} bytes", label.len());
    }
}

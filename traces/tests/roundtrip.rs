//! Round trips through both layouts, schema validation, determinism, the
//! temporary-file discipline of the writer.

mod common;

use common::*;
use pmemvm_traces::*;
use serde_json::Value;

fn schema() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schema/trace-v1.schema.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn sub_schema(name: &str) -> Value {
    let mut s = schema();
    let defs = s["$defs"].clone();
    s = serde_json::json!({ "$schema": s["$schema"], "$ref": format!("#/$defs/{name}"), "$defs": defs });
    s
}

fn assert_valid(schema: &Value, instance: &Value) {
    let v = jsonschema::validator_for(schema).unwrap();
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "schema errors: {errors:#?}\n{instance:#}"
    );
}

#[test]
fn json_round_trip_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    let mut w = TraceWriter::create(&path, &header()).unwrap();
    for ev in every_kind() {
        w.write(&ev).unwrap();
    }
    assert_eq!(w.events(), 13);
    w.finish().unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    // One event per line: header line, `"events":[` line, 13 events, `]}`.
    assert_eq!(text.lines().count(), 2 + 13 + 1, "{text}");
    assert!(text.starts_with("{\"header\":{\"format\":\"pmemvm-trace\",\"version\":1,"));

    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_valid(&schema(), &doc);

    let mut r = TraceReader::open(&path).unwrap();
    assert_eq!(r.format(), Format::Json);
    assert_eq!(r.header(), &header());
    let evs: Vec<Event> = r.by_ref().collect::<Result<_>>().unwrap();
    assert_eq!(evs, every_kind());
    assert_eq!(r.events_read(), 13);
    assert_eq!(r.last_location().line, Some(15));
}

#[test]
fn jsonl_round_trip_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.jsonl");
    let mut w = TraceWriter::create(&path, &header()).unwrap();
    for ev in every_kind() {
        w.write(&ev).unwrap();
    }
    w.finish().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 13 + 1);
    assert_eq!(*lines.last().unwrap(), r#"{"end":{"events":13}}"#);
    assert_valid(
        &sub_schema("header"),
        &serde_json::from_str(lines[0]).unwrap(),
    );
    for l in &lines[1..14] {
        assert_valid(&sub_schema("event"), &serde_json::from_str(l).unwrap());
    }
    assert_valid(
        &sub_schema("end"),
        &serde_json::from_str(lines[14]).unwrap(),
    );

    let r = TraceReader::open(&path).unwrap();
    assert_eq!(r.format(), Format::Jsonl);
    assert_eq!(r.header(), &header());
    let evs: Vec<Event> = r.collect::<Result<_>>().unwrap();
    assert_eq!(evs, every_kind());
}

#[test]
fn exact_event_lines() {
    let bytes = encode(Format::Jsonl, &header(), &every_kind());
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let z = "00".repeat(64);
    let a = "5a".repeat(64);
    let expected = [
        format!(
            r#"{{"seq":1,"kind":"store","addr":"0x100000040","offset":"0x40","size":4,"data":"deadbeef","rip":"0x101234","init":"{z}"}}"#
        ),
        r#"{"seq":2,"kind":"ntstore","addr":"0x100000048","offset":"0x48","size":8,"data":"0102030405060708","rip":"0x101240"}"#.into(),
        format!(
            r#"{{"seq":3,"kind":"rmw","addr":"0x100000080","offset":"0x80","size":8,"data":"0909090909090909","rip":"0x101250","init":"{a}"}}"#
        ),
        r#"{"seq":4,"kind":"clwb","addr":"0x100000044","offset":"0x44","line":"0x40"}"#.into(),
        r#"{"seq":5,"kind":"clflushopt","addr":"0x100000080","offset":"0x80","line":"0x80"}"#.into(),
        r#"{"seq":6,"kind":"clflush","addr":"0x10000007f","offset":"0x7f","line":"0x40"}"#.into(),
        r#"{"seq":7,"kind":"sfence"}"#.into(),
        r#"{"seq":8,"kind":"mfence"}"#.into(),
        r#"{"seq":9,"kind":"io","port":"0xe9"}"#.into(),
        r#"{"seq":10,"kind":"mark","label":"fsync-begin","file":3,"page":7,"op":12,"range":{"offset":"0x7000","len":4096}}"#.into(),
        r#"{"seq":11,"kind":"mark","label":"phase#2"}"#.into(),
        r#"{"seq":12,"kind":"promise","file":3,"offset":"0x7000","len":4096,"op":12,"ranges":[{"offset":"0x7000","len":4096},{"offset":"0x40","len":64}]}"#.into(),
        r#"{"seq":13,"kind":"power-fail","point":"fence:2","image":"minimal"}"#.into(),
    ];
    for (got, want) in lines[1..14].iter().zip(expected.iter()) {
        assert_eq!(got, want);
    }
    let h = format!(
        r#"{{"format":"pmemvm-trace","version":1,"tool_version":"{}","model":["intel-x86","crash-sync","atomic-line"],"device":{{"base":"0x100000000","size":67108864}},"line_size":64,"persistence":"mem-ctrl","atomicity":"line","scenario":"pmem-smoke","variant":"correct","seed":42,"initial_media_sha256":"{}"}}"#,
        env!("CARGO_PKG_VERSION"),
        "ab".repeat(32)
    );
    assert_eq!(lines[0], h);
}

#[test]
fn the_guest_and_its_hash_round_trip_and_older_headers_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = header();
    h.guest = Some("/abs/x.elf".into());
    h.guest_sha256 = Some([0xcd; 32]);
    for name in ["t.json", "t.jsonl"] {
        let path = dir.path().join(name);
        TraceWriter::create(&path, &h).unwrap().finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let fields = format!(
            r#""guest":"/abs/x.elf","guest_sha256":"{}"}}"#,
            "cd".repeat(32)
        );
        assert!(text.contains(&fields), "{text}");
        if name.ends_with(".json") {
            assert_valid(&schema(), &serde_json::from_str(&text).unwrap());
        }
        assert_eq!(TraceReader::open(&path).unwrap().header(), &h);
    }
    // A header of an older pmemvm: the path as given, no hash.
    let old = dir.path().join("old.jsonl");
    let mut h = header();
    h.guest = Some("x.elf".into());
    TraceWriter::create(&old, &h).unwrap().finish().unwrap();
    let text = std::fs::read_to_string(&old).unwrap();
    assert!(text.contains(r#""guest":"x.elf"}"#), "{text}");
    let read = TraceReader::open(&old).unwrap().header().clone();
    assert_eq!(
        (read.guest.as_deref(), read.guest_sha256),
        (Some("x.elf"), None)
    );
}

#[test]
fn pretty_printed_json_reads_back() {
    let bytes = encode(Format::Json, &header(), &every_kind());
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    // serde_json's Value sorts keys; lay the document out by hand, `jq`-style.
    let pretty = format!(
        "{{\n  \"header\": {},\n  \"events\": {}\n}}\n",
        serde_json::to_string_pretty(&doc["header"]).unwrap(),
        serde_json::to_string_pretty(&doc["events"]).unwrap()
    )
    .into_bytes();
    let (h, evs) = decode(&pretty, "pretty.json").unwrap();
    assert_eq!(h, header());
    assert_eq!(evs, every_kind());
    let compact = pretty
        .iter()
        .copied()
        .filter(|b| !b" \n".contains(b))
        .collect::<Vec<u8>>();
    assert_eq!(decode(&compact, "compact.json").unwrap().1, every_kind());
}

#[test]
fn empty_traces() {
    for format in [Format::Json, Format::Jsonl] {
        let bytes = encode(format, &header(), &[]);
        let (h, evs) = decode(&bytes, "empty").unwrap();
        assert_eq!(h, header());
        assert!(evs.is_empty());
    }
}

#[test]
fn deterministic() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["json", "jsonl"] {
        let mut files = Vec::new();
        for i in 0..2 {
            let path = dir.path().join(format!("run{i}.{ext}"));
            let mut w = TraceWriter::create(&path, &header()).unwrap();
            for ev in every_kind() {
                w.write(&ev).unwrap();
            }
            w.finish().unwrap();
            files.push(std::fs::read(&path).unwrap());
        }
        assert_eq!(files[0], files[1]);
    }
}

fn dir_entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn unfinished_writer_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.json");
    {
        let mut w = TraceWriter::create(&path, &header()).unwrap();
        w.write(&every_kind()[0]).unwrap();
        assert_eq!(
            dir_entries(dir.path()).len(),
            1,
            "the temporary file exists while writing"
        );
        assert!(!path.exists(), "the target appears only at finish");
    }
    assert!(
        dir_entries(dir.path()).is_empty(),
        "{:?}",
        dir_entries(dir.path())
    );

    let w = TraceWriter::create(&path, &header()).unwrap();
    w.finish().unwrap();
    assert_eq!(dir_entries(dir.path()), vec!["t.json".to_string()]);
}

#[test]
fn writer_refuses_bad_events_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let e = TraceWriter::create(dir.path().join("t.txt"), &header()).unwrap_err();
    assert!(matches!(e, TraceError::UnsupportedExtension { .. }), "{e}");
    let e = TraceWriter::create(dir.path().join("no/such/dir/t.json"), &header()).unwrap_err();
    assert!(matches!(e, TraceError::Output { .. }), "{e}");
    assert!(e.to_string().contains("does not exist"), "{e}");

    let mut w = TraceWriter::create(dir.path().join("t.jsonl"), &header()).unwrap();
    let evs = every_kind();
    let e = w.write(&evs[1]).unwrap_err();
    assert!(
        matches!(
            e,
            TraceError::SeqOrder {
                found: 2,
                expected: 1,
                ..
            }
        ),
        "{e}"
    );
    // A first write to a line without `init`.
    let e = w.write(&Event::new(1, evs[1].kind.clone())).unwrap_err();
    assert!(e.to_string().contains("lacks `init`"), "{e}");
    assert!(e.to_string().contains("t.jsonl"), "{e}");
    w.write(&evs[0]).unwrap();
    // Out of the device.
    let far = Write::new(BASE + SIZE, SIZE, vec![1], 0).with_init([0; 64]);
    let e = w.write(&Event::new(2, EventKind::Store(far))).unwrap_err();
    assert!(matches!(e, TraceError::OutOfRange { .. }), "{e}");
    // Crossing a line.
    let cross = Write::new(BASE + 0x7e, 0x7e, vec![1, 2, 3, 4], 0).with_init([0; 64]);
    let e = w
        .write(&Event::new(2, EventKind::Store(cross)))
        .unwrap_err();
    assert!(e.to_string().contains("crosses a 64-byte boundary"), "{e}");
    w.write(&Event::new(2, EventKind::Sfence)).unwrap();
    assert_eq!(w.events(), 2);
    w.finish().unwrap();
}

#[test]
fn word_atomicity_splits_at_words() {
    let mut h = header();
    h.atomicity = Atomicity::Word;
    let mut enc = TraceEncoder::new(Vec::new(), Format::Jsonl, &h, "mem").unwrap();
    let w = Write::new(BASE + 6, 6, vec![1, 2, 3, 4], 0).with_init([0; 64]);
    let e = enc.write(&Event::new(1, EventKind::Store(w))).unwrap_err();
    assert!(e.to_string().contains("8-byte"), "{e}");
}

#[test]
fn resolves_points_while_streaming() {
    let bytes = encode(Format::Json, &header(), &every_kind());
    let at = |p: &str| {
        let r = TraceReader::from_reader(&bytes[..], "t.json").unwrap();
        PointResolver::resolve(p.parse().unwrap(), r)
    };
    assert_eq!(at("fence:1").unwrap(), 3); // rmw
    assert_eq!(at("fence:3").unwrap(), 8);
    assert_eq!(at("store:2").unwrap(), 2);
    assert_eq!(at("mark:phase#2#1").unwrap(), 11);
    assert_eq!(at("promise:1").unwrap(), 12);
    assert_eq!(at("end").unwrap(), 13);
    let e = at("fence:9").unwrap_err().to_string();
    assert!(e.contains("fence:9 but the trace has 3 fences"), "{e}");
}

#[test]
fn schema_rejects_bad_documents() {
    let text = String::from_utf8(encode(Format::Json, &header(), &every_kind())).unwrap();
    let v = jsonschema::validator_for(&schema()).unwrap();
    for (from, to) in [
        ("\"kind\":\"sfence\"", "\"kind\":\"lfence\""),
        ("\"data\":\"deadbeef\"", "\"data\":\"DEADBEEF\""),
        ("\"version\":1", "\"version\":2"),
        ("\"kind\":\"mfence\"", "\"kind\":\"mfence\",\"extra\":1"),
        ("\"line\":\"0x40\"", "\"line\":64"),
    ] {
        let doc: Value = serde_json::from_str(&text.replacen(from, to, 1)).unwrap();
        assert!(!v.is_valid(&doc), "schema accepts {to}");
    }
}

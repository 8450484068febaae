//! The crash-point grammar and its resolution.
use pmemvm_traces::*;

#[test]
fn points_round_trip() {
    for s in [
        "seq:0",
        "seq:17",
        "fence:1",
        "store:3",
        "promise:2",
        "mark:fsync",
        "mark:fsync#3",
        "end",
    ] {
        let p: CrashPoint = s.parse().unwrap();
        assert_eq!(p.to_string(), s);
    }
    assert_eq!(
        "mark:a#1".parse::<CrashPoint>().unwrap().to_string(),
        "mark:a"
    );
    let tricky = CrashPoint::Mark {
        label: "a#3".into(),
        nth: 1,
    };
    assert_eq!(tricky.to_string(), "mark:a#3#1");
    assert_eq!(tricky.to_string().parse::<CrashPoint>().unwrap(), tricky);
    let colon = CrashPoint::Mark {
        label: "x:y".into(),
        nth: 2,
    };
    assert_eq!(colon.to_string().parse::<CrashPoint>().unwrap(), colon);
}

#[test]
fn bad_points() {
    for s in [
        "",
        "seq",
        "seq:",
        "seq:-1",
        "seq:x",
        "fence:0",
        "store:0",
        "mark:",
        "mark:#2",
        "mark:a#0",
        "foo:1",
        "seq:99999999999999999999",
        "End",
        " end",
    ] {
        assert!(s.parse::<CrashPoint>().is_err(), "{s}");
    }
    let e = "fence:0".parse::<CrashPoint>().unwrap_err().to_string();
    assert!(e.contains("counted from 1"), "{e}");
}

fn events() -> Vec<Result<Event>> {
    let w = || Write::new(0x1000, 0, vec![1], 0x10);
    let kinds = vec![
        EventKind::Store(w()),
        EventKind::Mark(Mark::new("a")),
        EventKind::Clwb(Flush::new(0x1000, 0)),
        EventKind::Sfence,
        EventKind::Rmw(w()),
        EventKind::Mark(Mark::new("a")),
        EventKind::Mfence,
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, k)| Ok(Event::new(i as u64 + 1, k)))
        .collect()
}

#[test]
fn resolver() {
    let at = |s: &str| PointResolver::resolve(s.parse().unwrap(), events());
    assert_eq!(at("seq:0").unwrap(), 0);
    assert_eq!(at("seq:3").unwrap(), 3);
    assert_eq!(at("fence:1").unwrap(), 4);
    assert_eq!(at("fence:2").unwrap(), 5);
    assert_eq!(at("fence:3").unwrap(), 7);
    assert_eq!(at("store:2").unwrap(), 5);
    assert_eq!(at("mark:a").unwrap(), 2);
    assert_eq!(at("mark:a#2").unwrap(), 6);
    assert_eq!(at("end").unwrap(), 7);
    let e = at("fence:9").unwrap_err().to_string();
    assert!(e.contains("fence:9 but the trace has 3 fences"), "{e}");
    assert!(
        at("seq:8")
            .unwrap_err()
            .to_string()
            .contains("has 7 events")
    );
    assert!(
        at("promise:1")
            .unwrap_err()
            .to_string()
            .contains("has 0 promises")
    );
    assert!(
        at("mark:b")
            .unwrap_err()
            .to_string()
            .contains("0 marks labelled `b`")
    );
    assert!(
        at("mark:a#3")
            .unwrap_err()
            .to_string()
            .contains("2 marks labelled `a`")
    );
}

#[test]
fn resolver_stops_at_point() {
    let mut r = PointResolver::new("fence:1".parse().unwrap());
    let evs: Vec<Event> = events().into_iter().map(|e| e.unwrap()).collect();
    let stop = evs.iter().position(|e| r.observe(e)).unwrap();
    assert_eq!(evs[stop].seq, 4);
    assert_eq!(r.reached(), Some(4));
}

#[test]
fn sets() {
    for s in [
        "fences",
        "after-fences",
        "stores",
        "marks",
        "all",
        "seq:2..5",
        "random:3",
        "fence:2",
        "end",
        "fences@mark:a..mark:a#2",
        "stores@..mark:x",
        "all@seq:3..",
    ] {
        assert_eq!(s.parse::<PointSet>().unwrap().to_string(), s);
    }
    for s in [
        "seq:5..2",
        "random:0",
        "random:x",
        "seq:1..",
        "nope",
        "fences@mark:a",
        "fences@mark:a..mark:b..end",
        "fences@nope..end",
    ] {
        assert!(s.parse::<PointSet>().is_err(), "{s}");
    }
    use selection::{PointReason::*, resolve, select};
    let sel = |s: &str, p: Persistence| select(&s.parse::<PointSet>().unwrap(), p, events(), 7);
    let adr = |s: &str| -> Vec<u64> {
        sel(s, Persistence::Adr)
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect()
    };
    // Before the sfence (the store in flight) and before the mfence (the
    // rmw's own write in flight), then the end.
    assert_eq!(
        sel("fences", Persistence::Adr).unwrap(),
        vec![(3, BeforeFence), (6, BeforeFence), (7, End)]
    );
    // eADR: before a mark (a drain point) with a write in flight; the
    // rmw's own write drains with it.
    assert_eq!(
        sel("fences", Persistence::Eadr).unwrap(),
        vec![(1, BeforeDrain), (7, End)]
    );
    assert_eq!(
        sel("after-fences", Persistence::Adr).unwrap(),
        vec![(4, AfterFence), (7, End)]
    );
    assert_eq!(adr("stores"), vec![1, 5, 7]);
    assert_eq!(adr("marks"), vec![2, 6, 7]);
    assert_eq!(adr("all"), (0..=7).collect::<Vec<_>>());
    assert_eq!(adr("seq:0..2"), vec![0, 1, 2, 7]);
    assert_eq!(adr("seq:6..7"), vec![6, 7]);
    assert!(sel("seq:6..9", Persistence::Adr).is_err());
    assert_eq!(adr("fence:2"), vec![5, 7]);
    // Windows: the bounds are included, the end only when inside.
    assert_eq!(adr("fences@mark:a..mark:a#2"), vec![3, 6]);
    assert_eq!(adr("stores@..mark:a"), vec![1]);
    assert_eq!(adr("all@seq:6.."), vec![6, 7]);
    let e = sel("fences@mark:a#3..", Persistence::Adr)
        .unwrap_err()
        .to_string();
    assert!(e.contains("2 marks labelled `a`"), "{e}");
    let r = |s: &str| resolve(&s.parse::<PointSet>().unwrap(), events(), 7);
    let rand = r("random:3").unwrap();
    assert_eq!(rand.len(), 3);
    assert!(rand.windows(2).all(|w| w[0] < w[1]) && rand.iter().all(|&s| s <= 7));
    assert_eq!(rand, r("random:3").unwrap());
    assert_eq!(r("random:100").unwrap(), (0..=7).collect::<Vec<_>>());
    assert_eq!(r("fence:2").unwrap(), vec![5]);
    assert!(r("fences").is_err(), "fences is selected event by event");
}

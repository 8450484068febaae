//! Shared test data: a header and a trace holding every event kind.
#![allow(dead_code)]

use pmemvm_traces::*;

pub const BASE: u64 = 0x1_0000_0000;
pub const SIZE: u64 = 64 << 20;

pub fn header() -> Header {
    Header::new(
        Device {
            base: BASE,
            size: SIZE,
        },
        Persistence::Adr,
        Atomicity::Line,
        "pmem-smoke",
        "correct",
        42,
        [0xab; 32],
    )
}

fn init(fill: u8) -> [u8; 64] {
    [fill; 64]
}

/// One event of every kind, valid in order.
pub fn every_kind() -> Vec<Event> {
    let kinds = vec![
        EventKind::Store(
            Write::new(BASE + 0x40, 0x40, vec![0xde, 0xad, 0xbe, 0xef], 0x10_1234)
                .with_init(init(0)),
        ),
        EventKind::NtStore(Write::new(
            BASE + 0x48,
            0x48,
            vec![1, 2, 3, 4, 5, 6, 7, 8],
            0x10_1240,
        )),
        EventKind::Rmw(Write::new(BASE + 0x80, 0x80, vec![9; 8], 0x10_1250).with_init(init(0x5a))),
        EventKind::Clwb(Flush::new(BASE + 0x44, 0x44)),
        EventKind::ClflushOpt(Flush::new(BASE + 0x80, 0x80)),
        EventKind::Clflush(Flush::new(BASE + 0x7f, 0x7f)),
        EventKind::Sfence,
        EventKind::Mfence,
        EventKind::Io(Io { port: 0xe9 }),
        EventKind::Mark(Mark {
            label: "fsync-begin".into(),
            file: Some(3),
            page: Some(7),
            op: Some(12),
            range: Some(DeviceRange {
                offset: 0x7000,
                len: 4096,
            }),
        }),
        EventKind::Mark(Mark::new("phase#2")),
        EventKind::Promise(Promise {
            file: 3,
            offset: 0x7000,
            len: 4096,
            op: 12,
            ranges: vec![
                DeviceRange {
                    offset: 0x7000,
                    len: 4096,
                },
                DeviceRange {
                    offset: 0x40,
                    len: 64,
                },
            ],
        }),
        EventKind::PowerFail(PowerFail {
            point: "fence:2".parse().unwrap(),
            image: Some("minimal".into()),
        }),
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, k)| Event::new(i as u64 + 1, k))
        .collect()
}

/// Encodes a trace into memory.
pub fn encode(format: Format, header: &Header, events: &[Event]) -> Vec<u8> {
    let mut enc = TraceEncoder::new(Vec::new(), format, header, "mem").unwrap();
    for ev in events {
        enc.write(ev).unwrap();
    }
    enc.finish().unwrap()
}

/// Reads a whole trace from bytes.
pub fn decode(bytes: &[u8], name: &str) -> Result<(Header, Vec<Event>)> {
    let mut r = TraceReader::from_reader(bytes, name)?;
    let mut evs = Vec::new();
    while let Some(ev) = r.next_event()? {
        evs.push(ev);
    }
    Ok((r.header().clone(), evs))
}

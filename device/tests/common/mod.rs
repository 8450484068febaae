//! A small driver for the model: numbers events, initialises lines, splits stores.
#![allow(dead_code)]

use std::collections::BTreeSet;

use pmemvm_device::crash::{Image, ImageSpec};
use pmemvm_device::model::{
    Atomicity, FenceKind, FlushKind, LINE_SIZE, Model, ModelConfig, Persistence,
};

pub const ADR: Persistence = Persistence::Adr;
pub const EADR: Persistence = Persistence::Eadr;
pub const LINE: Atomicity = Atomicity::Line;
pub const WORD: Atomicity = Atomicity::Word;

/// Three distinct lines and two words of line X.
pub const X: u64 = 0x40;
pub const X2: u64 = 0x48;
pub const Y: u64 = 0x80;
pub const Z: u64 = 0xc0;

pub struct H {
    pub m: Model,
    pub seq: u64,
    /// Initial content of every line.
    pub init: u8,
}

impl H {
    pub fn new(persistence: Persistence, atomicity: Atomicity) -> H {
        H {
            m: Model::new(ModelConfig {
                size: 4096,
                persistence,
                atomicity,
            }),
            seq: 0,
            init: 0,
        }
    }

    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn prepare(&mut self, off: u64) {
        if self.m.needs_init(off) {
            self.m.init_line(off, [self.init; 64]);
        }
    }

    /// A guest store, split like the VMM does; returns the sequence number of its last part.
    pub fn store(&mut self, off: u64, data: &[u8]) -> u64 {
        let parts: Vec<_> = self.m.split(off, data.len() as u64).collect();
        for (o, l) in parts {
            self.prepare(o);
            let s = self.next();
            let b = (o - off) as usize;
            self.m.store(s, o, &data[b..b + l as usize]).expect("store");
        }
        self.seq
    }

    pub fn nt(&mut self, off: u64, data: &[u8]) -> u64 {
        let parts: Vec<_> = self.m.split(off, data.len() as u64).collect();
        for (o, l) in parts {
            self.prepare(o);
            let s = self.next();
            let b = (o - off) as usize;
            self.m
                .ntstore(s, o, &data[b..b + l as usize])
                .expect("ntstore");
        }
        self.seq
    }

    pub fn rmw(&mut self, off: u64, data: &[u8]) -> u64 {
        self.prepare(off);
        let s = self.next();
        self.m.rmw(s, off, data).expect("rmw");
        s
    }

    pub fn flush(&mut self, kind: FlushKind, off: u64) -> u64 {
        let s = self.next();
        self.m.flush(s, kind, off).expect("flush");
        s
    }
    pub fn clwb(&mut self, off: u64) -> u64 {
        self.flush(FlushKind::Clwb, off)
    }
    pub fn clflushopt(&mut self, off: u64) -> u64 {
        self.flush(FlushKind::Clflushopt, off)
    }
    pub fn clflush(&mut self, off: u64) -> u64 {
        self.flush(FlushKind::Clflush, off)
    }
    pub fn fence(&mut self, kind: FenceKind) -> u64 {
        let s = self.next();
        self.m.fence(s, kind);
        s
    }
    pub fn sfence(&mut self) -> u64 {
        self.fence(FenceKind::Sfence)
    }
    pub fn mfence(&mut self) -> u64 {
        self.fence(FenceKind::Mfence)
    }
    pub fn io(&mut self) -> u64 {
        let s = self.next();
        self.m.drain(s);
        s
    }

    /// Every allowed image; checks that each spec names its image and round-trips.
    pub fn images(&self) -> Vec<Image> {
        let all = self.m.enumerate_images(100_000).expect("few images");
        assert_eq!(all.len() as u128, self.m.count_images());
        for (spec, image) in &all {
            assert_eq!(
                &self.m.image(spec).expect("own spec allowed"),
                image,
                "{spec}"
            );
            let text = spec.to_string();
            assert_eq!(&text.parse::<ImageSpec>().expect("parses"), spec);
        }
        all.into_iter().map(|(_, i)| i).collect()
    }

    /// The distinct values of the given byte ranges across all images.
    pub fn outcomes(&self, at: &[(u64, usize)]) -> BTreeSet<Vec<Vec<u8>>> {
        self.images()
            .iter()
            .map(|img| {
                at.iter()
                    .map(|&(off, len)| read(img, off, len, self.init))
                    .collect()
            })
            .collect()
    }

    /// Outcomes of one byte per location, as a set of tuples.
    pub fn bytes(&self, at: &[u64]) -> BTreeSet<Vec<u8>> {
        self.outcomes(&at.iter().map(|&o| (o, 1)).collect::<Vec<_>>())
            .into_iter()
            .map(|v| v.into_iter().map(|b| b[0]).collect())
            .collect()
    }
}

pub fn read(img: &Image, off: u64, len: usize, init: u8) -> Vec<u8> {
    (off..off + len as u64)
        .map(|o| {
            let line = o / LINE_SIZE * LINE_SIZE;
            img.lines
                .get(&line)
                .map_or(init, |c| c[(o - line) as usize])
        })
        .collect()
}

/// A set of byte tuples, for assertions.
pub fn set(v: &[&[u8]]) -> BTreeSet<Vec<u8>> {
    v.iter().map(|t| t.to_vec()).collect()
}

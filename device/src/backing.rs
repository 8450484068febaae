//! The backing file of the NVDIMM, with QEMU `memory-backend-file` semantics.
//!
//! `--nvdimm mem-path=FILE,size=SIZE[,label-size=SIZE][,share=on|off]`:
//!
//! * The file is `size` bytes. With `label-size`, the last `label-size` bytes
//!   are the label area (at least 128 KiB), which the guest never sees; the
//!   guest sees `size - label-size` rounded down to 2 MiB, from offset 0.
//! * `share=off` (the default) never writes to the file: it only supplies the
//!   initial content. A missing file means an NVDIMM of zeros, and the file
//!   is not created.
//! * `share=on` writes the media back with [`Backing::write_media`], through a
//!   temporary file in the same directory and a rename, so the file is never
//!   partially written; everything outside the guest-visible part (the label
//!   area included) is kept byte for byte. A missing file is created then,
//!   not before, so a failed run leaves nothing behind.
//!
//! Without `--nvdimm`, [`Backing::temporary`] gives an NVDIMM of zeros in
//! anonymous memory ([`DEFAULT_SIZE`]), which leaves nothing behind.
//!
//! The parts: [`NvdimmConfig`] parses and checks the option string, [`Backing`]
//! checks the file and reads and writes it, [`GuestCopy`] is the mapping the
//! guest runs on, and [`parse_size`] and [`format_size`] read and print sizes.

mod guest_copy;
mod options;
mod size;
mod store;
mod temp_file;

pub use guest_copy::GuestCopy;
pub(crate) use guest_copy::map_rw;
pub use options::NvdimmConfig;
pub use size::{
    DEFAULT_SIZE, GIB, GUEST_ALIGN, KIB, MIB, MIN_LABEL_SIZE, PAGE_SIZE, format_size, parse_size,
};
pub use store::Backing;

//! Files given on the command line: input traces must be regular files (a
//! FIFO would block forever), and [`OutputFile`] writes every output file
//! (traces, reports, exports) the same way.

use std::fs::FileType;
use std::os::unix::fs::FileTypeExt;

/// What a file that is not a regular file is, for messages: `directory`,
/// `FIFO`, `character device`...
pub fn file_kind(t: &FileType) -> &'static str {
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else if t.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

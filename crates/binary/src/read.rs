//! Bounds-checked little-endian reads over byte slices. Every read returns `None` past the end,
//! so callers turn a malformed input into an error instead of a panic.

/// Reads `N` bytes at `off`.
#[inline]
pub fn array<const N: usize>(data: &[u8], off: usize) -> Option<[u8; N]> {
    let end = off.checked_add(N)?;
    data.get(off..end)?.try_into().ok()
}

/// Reads a little-endian `u8` at `off`.
#[inline]
pub fn u8_at(data: &[u8], off: usize) -> Option<u8> {
    data.get(off).copied()
}

/// Reads a little-endian `u32` at `off`.
#[inline]
pub fn u32_at(data: &[u8], off: usize) -> Option<u32> {
    array(data, off).map(u32::from_le_bytes)
}

/// Reads a little-endian `i32` at `off`.
#[inline]
pub fn i32_at(data: &[u8], off: usize) -> Option<i32> {
    array(data, off).map(i32::from_le_bytes)
}

/// Reads a little-endian `u64` at `off`.
#[inline]
pub fn u64_at(data: &[u8], off: usize) -> Option<u64> {
    array(data, off).map(u64::from_le_bytes)
}

/// Reads a little-endian word of `ptr_size` (4 or 8) bytes at `off`.
#[inline]
pub fn word_at(data: &[u8], off: usize, ptr_size: u8) -> Option<u64> {
    if ptr_size == 8 {
        u64_at(data, off)
    } else {
        u32_at(data, off).map(u64::from)
    }
}

/// Reads a LEB128 unsigned varint at `*pos` and advances `*pos`; `None` if truncated or over
/// 64 bits.
#[inline]
pub fn uvarint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    let mut shift = 0u32;
    loop {
        let b = *data.get(*pos)?;
        *pos += 1;
        if shift >= 64 || (shift == 63 && b > 1) {
            return None;
        }
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
    }
}

/// The NUL-terminated string starting at `off` (without the NUL). A string that runs to the end
/// of `data` without a NUL is `None`.
#[inline]
pub fn cstr_at(data: &[u8], off: usize) -> Option<&[u8]> {
    let rest = data.get(off..)?;
    let n = memchr0(rest)?;
    Some(&rest[..n])
}

#[inline]
fn memchr0(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_reads_leb128_and_rejects_overflow() {
        let mut pos = 0;
        assert_eq!(uvarint(&[0xe5, 0x8e, 0x26], &mut pos), Some(624_485));
        assert_eq!(pos, 3);
        let mut pos = 0;
        assert_eq!(uvarint(&[0x80, 0x80], &mut pos), None);
        let mut pos = 0;
        assert_eq!(uvarint(&[0xff; 11], &mut pos), None);
    }

    #[test]
    fn reads_past_the_end_are_none() {
        assert_eq!(u32_at(&[1, 2, 3], 0), None);
        assert_eq!(u32_at(&[1, 2, 3, 4], usize::MAX), None);
        assert_eq!(cstr_at(b"abc", 0), None);
        assert_eq!(cstr_at(b"abc\0d", 0), Some(&b"abc"[..]));
    }
}

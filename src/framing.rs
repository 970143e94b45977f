//! Length-prefixed frames over a byte stream, shared by the attach protocol
//! (`attach::proto`) and the holder protocol (`holder::proto`): one kind byte, the payload
//! length as a u32 big-endian, then the payload. Each protocol gives its own size cap; a frame
//! over it is an `InvalidData` error, so a peer cannot make us allocate without bound. A clean
//! end of stream between frames is `Ok(None)`; one inside a frame is an error.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Read one frame as (kind, payload).
pub async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut R,
    max_payload: usize,
) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..]).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > max_payload {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the {max_payload}-byte limit"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok(Some((head[0], payload)))
}

//! The async driver over `embedded_io_async::{Read, Write}` (generated from `driver.rs`).

use embedded_io_async::{Read, Write};

super::driver::driver!(async, .await);

impl<C: Read + Write> Read for Response<'_, C> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        Response::read(self, buf).await
    }
}

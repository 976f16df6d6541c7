//! The ns16550 console UART of QEMU `virt` at 0x1000_0000.
//!
//! Transmit is blocking (QEMU drains the holding register at once), so printing works anywhere,
//! including the panic handler. Receive is polled: there are no interrupts on this board, the
//! executor simply polls again. Line settings are irrelevant on QEMU and are left as they are.

use core::convert::Infallible;
use core::future::poll_fn;
use core::ptr::{read_volatile, write_volatile};
use core::task::Poll;

const BASE: usize = 0x1000_0000;
/// Receive buffer (read) / transmit holding register (write).
const RBR_THR: usize = 0;
/// FIFO control: bit 0 enables the FIFOs, bits 1-2 clear them.
const FCR: usize = 2;
const LSR: usize = 5;
const LSR_DATA_READY: u8 = 1 << 0;
const LSR_THR_EMPTY: u8 = 1 << 5;

fn reg(offset: usize) -> *mut u8 {
    (BASE + offset) as *mut u8
}

fn lsr() -> u8 {
    // SAFETY: an 8-bit device register of the UART that QEMU `virt` always maps.
    unsafe { read_volatile(reg(LSR)) }
}

/// A handle to the console. Zero-sized: every handle drives the same device, which is fine on a
/// single hart with no interrupts.
pub struct Uart(());

impl Uart {
    /// Enables and clears the FIFOs so that typed-ahead input is not lost between polls.
    pub fn init() -> Uart {
        // SAFETY: as in `lsr`.
        unsafe { write_volatile(reg(FCR), 0b111) };
        Uart(())
    }

    /// A handle for code that cannot own one (the panic handler, `println!`).
    pub fn steal() -> Uart {
        Uart(())
    }

    pub fn write_blocking(&mut self, bytes: &[u8]) {
        for &b in bytes {
            while lsr() & LSR_THR_EMPTY == 0 {}
            // SAFETY: as in `lsr`.
            unsafe { write_volatile(reg(RBR_THR), b) };
        }
    }

    /// Copies whatever bytes have arrived into `buf`; 0 when none have.
    pub fn read_available(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() && lsr() & LSR_DATA_READY != 0 {
            // SAFETY: as in `lsr`.
            buf[n] = unsafe { read_volatile(reg(RBR_THR)) };
            n += 1;
        }
        n
    }
}

impl core::fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_blocking(s.as_bytes());
        Ok(())
    }
}

impl embedded_io_async::ErrorType for Uart {
    type Error = Infallible;
}

impl embedded_io_async::Read for Uart {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        poll_fn(|cx| match self.read_available(buf) {
            0 => {
                // No receive interrupt to wake us: ask to be polled again.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            n => Poll::Ready(Ok(n)),
        })
        .await
    }
}

impl embedded_io_async::Write for Uart {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        self.write_blocking(buf);
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

/// A line on the console, usable before anything else is set up. Ends in CR LF because QEMU puts
/// the host terminal in raw mode.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let mut uart = $crate::uart::Uart::steal();
        let _ = write!(uart, $($arg)*);
        uart.write_blocking(b"\r\n");
    }};
}

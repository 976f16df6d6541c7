//! The console: USB CDC-ACM on the RP2040's full-speed USB, as one `embedded_io_async` port.
//!
//! It behaves like a UART with hardware flow control, never like a failing device: output waits
//! while no terminal holds the port open (DTR low) so the boot log is not lost, and reads wait
//! while USB is unplugged. Errors never reach the app, whose shell would otherwise retry at once
//! and keep the executor from running the network.

use core::convert::Infallible;

use embassy_rp::peripherals::USB;
use embassy_rp::usb::Driver;
use embassy_usb::class::cdc_acm::{CdcAcmClass, ControlChanged, Receiver, Sender, State};
use embassy_usb::driver::EndpointError;
use embassy_usb::{Builder, UsbDevice};
use static_cell::StaticCell;

pub type UsbDriver = Driver<'static, USB>;

/// Full-speed bulk endpoints carry at most 64 bytes a packet.
const PACKET: usize = 64;
/// Raspberry Pi's vendor ID and the Pico SDK's CDC console product ID: what `mreq-flash` and
/// `mreq --device` look for.
const VID_PID: (u16, u16) = (0x2e8a, 0x000a);

struct Buffers {
    config: [u8; 256],
    bos: [u8; 64],
    control: [u8; 64],
    state: State<'static>,
}

/// The USB device (run it in a task of its own) and the console port on it.
pub fn new(driver: UsbDriver) -> (UsbDevice<'static, UsbDriver>, UsbSerial) {
    static BUFFERS: StaticCell<Buffers> = StaticCell::new();
    let bufs = BUFFERS.init(Buffers {
        config: [0; 256],
        bos: [0; 64],
        control: [0; 64],
        state: State::new(),
    });
    let mut config = embassy_usb::Config::new(VID_PID.0, VID_PID.1);
    config.manufacturer = Some("mreq");
    config.product = Some("mreq-fw console (rp2-pico-w)");
    config.max_power = 100;
    config.max_packet_size_0 = PACKET as u8;

    let mut builder = Builder::new(
        driver,
        config,
        &mut bufs.config,
        &mut bufs.bos,
        &mut [], // no Microsoft OS descriptors
        &mut bufs.control,
    );
    let class = CdcAcmClass::new(&mut builder, &mut bufs.state, PACKET as u16);
    let (tx, rx, lines) = class.split_with_control();
    let serial = UsbSerial {
        tx,
        rx,
        lines,
        buf: [0; PACKET],
        start: 0,
        end: 0,
    };
    (builder.build(), serial)
}

pub struct UsbSerial {
    tx: Sender<'static, UsbDriver>,
    rx: Receiver<'static, UsbDriver>,
    lines: ControlChanged<'static>,
    /// The last packet received, of which `buf[start..end]` is not read yet.
    buf: [u8; PACKET],
    start: usize,
    end: usize,
}

impl embedded_io_async::ErrorType for UsbSerial {
    type Error = Infallible;
}

impl embedded_io_async::Read for UsbSerial {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.start == self.end {
            match self.rx.read_packet(&mut self.buf).await {
                // A zero-length packet leaves the buffer empty: read on.
                Ok(n) => (self.start, self.end) = (0, n),
                Err(EndpointError::Disabled) => self.rx.wait_connection().await,
                // Cannot happen with a whole-packet buffer; the packet is dropped.
                Err(EndpointError::BufferOverflow) => {}
            }
        }
        let n = buf.len().min(self.end - self.start);
        buf[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        Ok(n)
    }
}

impl embedded_io_async::Write for UsbSerial {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        // The host ends a transfer on a short packet only: a write ending on a full packet would
        // stay in its buffer until more output came. So 64 bytes go out as 63, then 1.
        let len = if buf.len() == PACKET {
            PACKET - 1
        } else {
            buf.len().min(PACKET)
        };
        loop {
            while !self.lines.dtr() {
                self.lines.control_changed().await;
            }
            match self.tx.write_packet(&buf[..len]).await {
                Ok(()) => return Ok(len),
                Err(EndpointError::Disabled) => self.tx.wait_connection().await,
                Err(EndpointError::BufferOverflow) => return Ok(len), // len <= PACKET: cannot happen
            }
        }
    }

    /// Every write already went out as a packet, and never as a full one that the host would
    /// hold back: nothing to push.
    async fn flush(&mut self) -> Result<(), Infallible> {
        Ok(())
    }
}

//! The virtio devices: found by probing QEMU `virt`'s virtio-mmio slots, driven by virtio-drivers.
//! The NIC is offered to embassy-net as an `embassy_net_driver::Driver`; the RNG feeds TLS.
//!
//! Memory is identity-mapped and coherent, so DMA pages are plain heap pages and sharing a buffer
//! is just taking its address. No interrupts: embassy-net polls `receive`/`transmit`.

use alloc::alloc::{alloc_zeroed, dealloc};
use core::alloc::Layout;
use core::cell::RefCell;
use core::fmt;
use core::ptr::NonNull;
use core::task::Context;

use embassy_net_driver::{Capabilities, HardwareAddress, LinkState};
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::device::rng::VirtIORng;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

/// QEMU `virt` has 8 virtio-mmio slots of 4 KiB from here; `-device` fills them from the top.
const MMIO_BASE: usize = 0x1000_1000;
const MMIO_SLOTS: usize = 8;
const MMIO_SIZE: usize = 0x1000;
/// Receive buffers in the ring, each big enough for a 1514-byte frame plus the virtio-net header.
const QUEUE_SIZE: usize = 16;
const BUF_LEN: usize = 2048;
/// Largest Ethernet frame without FCS, for an IP MTU of 1500.
const MTU: usize = 1514;

type Device = VirtIONet<IdentityHal, MmioTransport<'static>, QUEUE_SIZE>;

pub struct IdentityHal;

fn pages_layout(pages: usize) -> Option<Layout> {
    Layout::from_size_align(pages.checked_mul(PAGE_SIZE)?, PAGE_SIZE).ok()
}

// SAFETY: allocations are page-aligned, zeroed and owned by the device until `dma_dealloc`;
// physical and virtual addresses are the same on this board.
unsafe impl Hal for IdentityHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        // SAFETY: the layout has a non-zero size (virtio-drivers never asks for 0 pages).
        let ptr =
            pages_layout(pages).and_then(|layout| NonNull::new(unsafe { alloc_zeroed(layout) }));
        match ptr {
            Some(ptr) => (ptr.as_ptr() as usize as PhysAddr, ptr),
            // Physical address 0 is how virtio-drivers is told the allocation failed.
            None => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        match pages_layout(pages) {
            // SAFETY: `vaddr` came from `dma_alloc` with this page count.
            Some(layout) => unsafe { dealloc(vaddr.as_ptr(), layout) },
            None => return -1,
        }
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        // Only the PCI transport asks (for BARs); this board's MMIO transport never does.
        NonNull::new(paddr as usize as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as usize as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

#[derive(Debug)]
pub enum ProbeError {
    /// No slot holds a device of this kind; the QEMU option that adds one.
    NoDevice(&'static str),
    Init(&'static str, virtio_drivers::Error),
}

impl fmt::Display for ProbeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProbeError::NoDevice(option) => write!(f, "no {option} (QEMU needs -device {option})"),
            ProbeError::Init(what, e) => write!(f, "{what} init failed: {e}"),
        }
    }
}

/// The transports of the devices this board drives, found in one pass over the slots.
///
/// One pass, because dropping a transport resets its device: probing the slots again after a
/// device was set up would reset it under its driver.
pub struct Found {
    net: Option<MmioTransport<'static>>,
    rng: Option<MmioTransport<'static>>,
}

/// Looks at every virtio-mmio slot once; empty slots (device id 0) and devices of other types
/// are left alone (their transports are dropped, which resets them).
pub fn scan() -> Found {
    let mut found = Found {
        net: None,
        rng: None,
    };
    for slot in 0..MMIO_SLOTS {
        let Some(header) = NonNull::new((MMIO_BASE + slot * MMIO_SIZE) as *mut VirtIOHeader) else {
            continue;
        };
        // SAFETY: each slot is a 4 KiB virtio-mmio register block on QEMU `virt`, and this scan
        // runs once, so each transport is its slot's only user.
        let Ok(transport) = (unsafe { MmioTransport::new(header, MMIO_SIZE) }) else {
            continue;
        };
        let wanted = match transport.device_type() {
            DeviceType::Network => &mut found.net,
            DeviceType::EntropySource => &mut found.rng,
            _ => continue,
        };
        if wanted.is_none() {
            *wanted = Some(transport);
        }
    }
    found
}

/// The entropy device (`-device virtio-rng-device`: the host's /dev/urandom).
pub struct Rng(VirtIORng<IdentityHal, MmioTransport<'static>>);

impl Rng {
    pub fn new(found: &mut Found) -> Result<Rng, ProbeError> {
        let transport = found
            .rng
            .take()
            .ok_or(ProbeError::NoDevice("virtio-rng-device"))?;
        VirtIORng::new(transport)
            .map(Rng)
            .map_err(|e| ProbeError::Init("virtio-rng", e))
    }

    /// Fills `buf` with random bytes; the device may hand out fewer than asked per request.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<(), virtio_drivers::Error> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.request_entropy(&mut buf[filled..])? {
                0 => return Err(virtio_drivers::Error::IoError),
                n => filled += n,
            }
        }
        Ok(())
    }
}

/// The virtio-net device, shared by the tokens embassy-net holds at the same time.
pub struct Net {
    device: RefCell<Device>,
}

impl Net {
    /// The first network device in the virtio-mmio slots.
    pub fn new(found: &mut Found) -> Result<Net, ProbeError> {
        let transport = found
            .net
            .take()
            .ok_or(ProbeError::NoDevice("virtio-net-device"))?;
        let device =
            VirtIONet::new(transport, BUF_LEN).map_err(|e| ProbeError::Init("virtio-net", e))?;
        Ok(Net {
            device: RefCell::new(device),
        })
    }

    pub fn mac(&self) -> [u8; 6] {
        self.device.borrow().mac_address()
    }
}

impl embassy_net_driver::Driver for Net {
    type RxToken<'a> = Rx<'a>;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, cx: &mut Context) -> Option<(Rx<'_>, Tx<'_>)> {
        match self.device.get_mut().receive() {
            Ok(buf) => Some((
                Rx {
                    device: &self.device,
                    buf: Some(buf),
                },
                Tx {
                    device: &self.device,
                },
            )),
            Err(_) => {
                // No receive interrupt: ask to be polled again.
                cx.waker().wake_by_ref();
                None
            }
        }
    }

    fn transmit(&mut self, cx: &mut Context) -> Option<Tx<'_>> {
        if self.device.get_mut().can_send() {
            Some(Tx {
                device: &self.device,
            })
        } else {
            cx.waker().wake_by_ref();
            None
        }
    }

    fn link_state(&mut self, _cx: &mut Context) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac())
    }
}

/// A received frame. Its buffer goes back into the receive ring when the token is dropped,
/// whether or not it was consumed.
pub struct Rx<'a> {
    device: &'a RefCell<Device>,
    buf: Option<RxBuffer>,
}

impl embassy_net_driver::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        match self.buf.as_mut() {
            Some(buf) => f(buf.packet_mut()),
            None => f(&mut []),
        }
    }
}

impl Drop for Rx<'_> {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            // Fails only on a driver bug; the ring then has one buffer fewer.
            let _ = self.device.borrow_mut().recycle_rx_buffer(buf);
        }
    }
}

pub struct Tx<'a> {
    device: &'a RefCell<Device>,
}

impl embassy_net_driver::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.device.borrow().new_tx_buffer(len);
        let result = f(buf.packet_mut());
        // virtio-drivers waits for the device to take the frame. A failed send is a lost frame,
        // which TCP retransmits and DHCP retries.
        let _ = self.device.borrow_mut().send(buf);
        result
    }
}

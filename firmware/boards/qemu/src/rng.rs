//! The random source of TLS: virtio-rng (QEMU hands out the host's /dev/urandom), registered with
//! getrandom through `mreq_fw::register_rng!`. Until the device is set up every request for
//! random bytes fails, so a handshake can never run on a guessed seed.

use core::cell::RefCell;
use core::num::NonZeroU32;

use critical_section::Mutex;
use mreq_fw::tls::getrandom;

use crate::virtio::{Found, ProbeError, Rng};

static RNG: Mutex<RefCell<Option<Rng>>> = Mutex::new(RefCell::new(None));

/// Sets up the virtio-rng device and makes it the source of `fill`.
pub fn init(found: &mut Found) -> Result<(), ProbeError> {
    let rng = Rng::new(found)?;
    critical_section::with(|cs| RNG.borrow(cs).replace(Some(rng)));
    Ok(())
}

/// getrandom's custom backend: device missing or failing is an error, never made-up bytes.
fn fill(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    let failed = getrandom::Error::from(
        NonZeroU32::new(getrandom::Error::CUSTOM_START).unwrap_or(NonZeroU32::MIN),
    );
    critical_section::with(|cs| match RNG.borrow(cs).borrow_mut().as_mut() {
        Some(rng) => rng.fill(buf).map_err(|_| failed),
        None => Err(failed),
    })
}

mreq_fw::register_rng!(fill);

//! The random source of TLS: the STM32F407's RNG peripheral (analog noise, 48 MHz from PLL Q),
//! registered with getrandom through `mreq_fw::register_rng!`. Before `init` every request for
//! random bytes fails, so a handshake never runs on a guessed seed.

use core::cell::RefCell;
use core::num::NonZeroU32;

use critical_section::Mutex;
use embassy_stm32::peripherals::RNG;
use embassy_stm32::rng::Rng;
use mreq_fw::tls::getrandom;

static SOURCE: Mutex<RefCell<Option<Rng<'static, RNG>>>> = Mutex::new(RefCell::new(None));

/// Makes `rng` the source of `fill`.
pub fn init(rng: Rng<'static, RNG>) {
    critical_section::with(|cs| SOURCE.borrow(cs).replace(Some(rng)));
}

/// getrandom's custom backend. The peripheral recovers from seed and clock errors by itself
/// (embassy-stm32 resets it and waits for fresh data).
fn fill(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    critical_section::with(|cs| match SOURCE.borrow(cs).borrow_mut().as_mut() {
        Some(rng) => {
            rng.fill_bytes(buf);
            Ok(())
        }
        None => Err(getrandom::Error::from(
            NonZeroU32::new(getrandom::Error::CUSTOM_START).unwrap_or(NonZeroU32::MIN),
        )),
    })
}

mreq_fw::register_rng!(fill);

//! Leaving QEMU: the SiFive test device at 0x0010_0000 ends the emulator with an exit status, so
//! CI sees how the firmware ended. Panics and CPU exceptions print to the console and exit with a
//! failure status instead of hanging.

use core::ptr::write_volatile;

const TEST_DEVICE: *mut u32 = 0x0010_0000 as *mut u32;
const PASS: u32 = 0x5555;
const FAIL: u32 = 0x3333;

/// Ends QEMU: status 0 for `code == 0`, else `code` (QEMU exits with the 16-bit code given).
pub fn qemu_exit(code: u16) -> ! {
    let value = if code == 0 {
        PASS
    } else {
        FAIL | (u32::from(code) << 16)
    };
    // SAFETY: the test device register of QEMU `virt`; writing it stops the machine.
    unsafe { write_volatile(TEST_DEVICE, value) };
    // Not on QEMU `virt` after all: stop here.
    loop {
        riscv::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    crate::println!("\r\npanic: {info}");
    qemu_exit(101)
}

/// Replaces riscv-rt's default (a silent endless loop) for faults such as a bad memory access.
#[export_name = "ExceptionHandler"]
fn exception(_frame: &riscv_rt::TrapFrame) -> ! {
    let cause = riscv::register::mcause::read().bits();
    let pc = riscv::register::mepc::read();
    let addr = riscv::register::mtval::read();
    crate::println!("\r\nexception: mcause {cause:#x} at pc {pc:#x}, mtval {addr:#x}");
    qemu_exit(102)
}

//! No option is silently dropped: an option that only one flash method acts on is refused
//! (exit 2, naming it and why) for a board flashed another way, before anything is built or
//! written. `flasher/tests/flash.rs` walks every option through every board.

use crate::Args;
use mreq_fwconfig::boards::{Board, FlashMethod};
use FlashMethod::{Esp8266Rom, Espflash, ProbeRs, Qemu, Uf2};

/// An option that some methods ignore: whether it was given, and what it is for.
struct Scoped {
    given: bool,
    name: &'static str,
    methods: &'static [FlashMethod],
    does: &'static str,
}

fn scoped(args: &Args) -> [Scoped; 13] {
    let option = |given, name, methods, does| Scoped {
        given,
        name,
        methods,
        does,
    };
    [
        option(
            args.uf2_out.is_some(),
            "--uf2-out",
            &[Uf2],
            "writes the UF2 of a BOOTSEL board",
        ),
        option(
            args.merged_out.is_some(),
            "--merged-out",
            &[Espflash],
            "writes the flash image of an ESP32",
        ),
        option(
            args.pflash_out.is_some(),
            "--pflash-out",
            &[Qemu],
            "writes QEMU's pflash image",
        ),
        option(
            args.pflash.is_some(),
            "--pflash",
            &[Qemu],
            "is QEMU's flash file",
        ),
        option(
            args.qemu_console.is_some(),
            "--qemu-console",
            &[Qemu],
            "serves QEMU's console on a socket",
        ),
        option(
            args.timeout.is_some(),
            "--timeout",
            &[Qemu],
            "stops QEMU after a while",
        ),
        option(
            args.boot,
            "--boot",
            // An ESP8266 without --image gets the MicroPython module installed.
            if args.image.is_none() {
                &[Esp8266Rom]
            } else {
                &[]
            },
            "makes boot.py join the Wi-Fi network when mreq-flash installs the MicroPython module (--board esp8266 without --image, or mreq-flash micropython)",
        ),
        option(
            args.probe.is_some(),
            "--probe",
            &[Uf2, ProbeRs],
            "flashes an Arm board through a debug probe",
        ),
        option(
            args.port.is_some(),
            "--port",
            if args.monitor {
                &[Espflash, Esp8266Rom, Uf2, ProbeRs]
            } else {
                &[Espflash, Esp8266Rom]
            },
            "names the serial port of an ESP chip's ROM loader, or with --monitor a board's console",
        ),
        option(
            args.baud.is_some(),
            "--baud",
            &[Espflash, Esp8266Rom],
            "sets the speed of an ESP chip's ROM loader",
        ),
        option(
            args.before.is_some(),
            "--before",
            &[Espflash, Esp8266Rom],
            "says how an ESP chip enters its ROM loader",
        ),
        option(
            args.after.is_some(),
            "--after",
            &[Espflash, Esp8266Rom],
            "says how an ESP chip leaves its ROM loader",
        ),
        option(
            args.log.is_some(),
            "--log",
            if args.monitor {
                &[Qemu, Espflash, Esp8266Rom, Uf2, ProbeRs]
            } else {
                &[Qemu]
            },
            "writes the console that --monitor opens (add --monitor; QEMU's console is always open)",
        ),
    ]
}

/// The options given that the board's method would not act on, with the reason: the usage
/// error to print (exit 2).
pub fn check(args: &Args, board: &Board) -> Result<(), String> {
    let method = match board.method {
        Uf2 if args.probe.is_some() => ProbeRs,
        other => other,
    };
    for option in scoped(args) {
        if option.given && !option.methods.contains(&method) {
            return Err(format!(
                "{} does not apply to the {} (flashed by {method:?}): it {}",
                option.name, board.name, option.does
            ));
        }
    }
    if board.method == Uf2 && args.probe.is_some() && args.uf2_out.is_some() {
        return Err(
            "--uf2-out writes a UF2 file; --probe flashes through a probe: give one".into(),
        );
    }
    let writes_file =
        args.uf2_out.is_some() || args.merged_out.is_some() || args.pflash_out.is_some();
    for (given, name) in [(args.monitor, "--monitor"), (args.log.is_some(), "--log")] {
        if given && writes_file {
            return Err(format!(
                "{name}: the console of a flashed board; writing an image file flashes nothing"
            ));
        }
    }
    if method == Esp8266Rom {
        use crate::espressif::{After, Before};
        if matches!(args.before, Some(Before::UsbReset | Before::NoResetNoSync)) {
            return Err("--before: the ESP8266's ROM loader takes default-reset or no-reset (it has no USB, and always needs SYNC)".into());
        }
        if matches!(
            args.after,
            Some(After::NoResetNoStub | After::WatchdogReset)
        ) {
            return Err("--after: the ESP8266's ROM loader takes hard-reset or no-reset".into());
        }
    }
    if method == Esp8266Rom && args.elf.is_some() {
        return Err(
            "--elf: the ESP8266 takes a ready image (--image FILE, e.g. MicroPython's esp8266 .bin), not an ELF".into(),
        );
    }
    if method != Esp8266Rom && args.image.is_some() {
        return Err(format!(
            "--image is for the ESP8266; the {} takes its firmware as an ELF (--elf FILE, or let mreq-flash build it)",
            board.name
        ));
    }
    Ok(())
}

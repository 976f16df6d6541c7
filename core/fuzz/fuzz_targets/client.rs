//! The whole client over fuzzed server bytes: the lifecycle (1xx heads, redirects and their
//! drain, stale-connection retries, streamed request bodies) and the body reader. Every
//! connection serves the data in reads whose sizes come from the input; the request must end in
//! a response or an error, never a panic, and no more body bytes come out than went in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mreq_core::client::blocking::{BodySource, Client, Connect};
use mreq_core::client::{Config, Request};
use mreq_core::url::Scheme;
use mreq_core::Error;

struct Wire<'a> {
    data: &'a [u8],
    pos: usize,
    steps: &'a [u8],
    reads: usize,
}

impl embedded_io::ErrorType for Wire<'_> {
    type Error = Error;
}

impl embedded_io::Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let step = usize::from(self.steps[self.reads % self.steps.len()]).max(1);
        self.reads += 1;
        let n = step.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl embedded_io::Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

struct Net<'a> {
    data: &'a [u8],
    steps: &'a [u8],
    connects: usize,
}

impl<'a> Connect for Net<'a> {
    type Conn = Wire<'a>;

    fn connect(&mut self, _: Scheme, _: &str, _: u16) -> mreq_core::Result<Wire<'a>> {
        self.connects += 1;
        if self.connects > 8 {
            return Err(Error::Connect(embedded_io::ErrorKind::ConnectionRefused));
        }
        Ok(Wire {
            data: self.data,
            pos: 0,
            steps: self.steps,
            reads: self.connects,
        })
    }
}

/// A request body that can go again, as a file can.
struct Again<'a> {
    data: &'a [u8],
    pos: usize,
}

impl embedded_io::ErrorType for Again<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Again<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.data.len() - self.pos).min(3);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl BodySource for Again<'_> {
    fn rewind(&mut self) -> bool {
        self.pos = 0;
        true
    }
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 4 {
        return;
    }
    let (control, data) = input.split_at(4);
    let config = Config {
        max_redirects: control[0] % 4,
        max_drain: u64::from(control[1]),
        ..Config::default()
    };
    let mut client = Client::with_config(
        Net {
            data,
            steps: &control[1..],
            connects: 0,
        },
        config,
    );
    let mut buf = vec![0u8; 512 + usize::from(control[2]) * 8];
    let request = match control[3] % 3 {
        0 => Request::get("http://h/a/b?q"),
        1 => Request::head("https://h/"),
        _ => Request::post("http://h/p"),
    };
    let mut source = Again {
        data: b"request body",
        pos: 0,
    };
    let sent = match control[3] % 5 {
        4 => client.send_with(&request, Some((&mut source, None)), &mut (), &mut buf),
        3 => client.send_with(&request, Some((&mut source, Some(12))), &mut (), &mut buf),
        _ => client.send(&request, &mut buf),
    };
    let Ok(mut response) = sent else { return };
    let _ = (response.status(), response.reason(), response.url());
    let mut chunk = [0u8; 97];
    let mut total = 0usize;
    loop {
        match response.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n;
                assert!(total <= data.len(), "more body than bytes served");
            }
        }
    }
});

//! The decisions of one request/response exchange, shared by both drivers: the head to send,
//! the body framing, whether and where to follow a redirect, and what travels along.

use super::{Config, Request};
use crate::error::ErrorText;
use crate::redirect;
use crate::request::{self, BodyFraming, HeadSpec};
use crate::response::ResponseHead;
use crate::url::Url;
use crate::{Error, Result};
use core::num::NonZeroU32;

/// Where the request body comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyKind {
    /// `Request::body` (possibly empty): can be sent again after a 307/308.
    Bytes,
    /// A reader of this length (`None`: unknown, sent chunked); can be sent once.
    Stream(Option<u64>),
}

pub(crate) struct Exchange<'r> {
    pub(crate) req: Request<'r>,
    /// The request's own URL, parsed once: its credentials, and the origin they belong to.
    original: Url<'r>,
    /// A redirect turned the method into GET (else it is the request's).
    as_get: bool,
    /// The method is HEAD (no redirect changes that: 303 keeps HEAD).
    is_head: bool,
    body: Option<BodyKind>,
    redirects: u8,
    strip_credentials: bool,
    /// `None` while the target is `req.url`; `Some(n)` once it is a redirect target in the slot.
    url_len: Option<NonZeroU32>,
}

impl<'r> Exchange<'r> {
    pub(crate) fn new(req: Request<'r>, body: BodyKind) -> Result<Self> {
        let original = Url::parse(req.url)?;
        if !cfg!(feature = "url-credentials") && original.userinfo().is_some() {
            return Err(Error::InvalidUrl(
                "user info in the URL needs mreq-core's url-credentials feature",
            ));
        }
        Ok(Exchange {
            req,
            original,
            as_get: false,
            is_head: req.method.eq_ignore_ascii_case("HEAD"),
            body: Some(body),
            redirects: 0,
            strip_credentials: false,
            url_len: None,
        })
    }

    /// The current target, parsed.
    pub(crate) fn target<'s>(&self, slot: &'s [u8]) -> Result<Url<'s>>
    where
        'r: 's,
    {
        match self.url_len {
            None => Ok(self.original),
            Some(_) => Url::parse(self.url_text(slot)?),
        }
    }

    /// The target is now the `len` bytes at the start of the slot.
    pub(crate) fn set_target(&mut self, len: usize) -> Result<()> {
        let len = u32::try_from(len).ok().and_then(NonZeroU32::new);
        self.url_len = Some(len.ok_or(Error::InvalidUrl("redirect URL of no or too many bytes"))?);
        Ok(())
    }

    fn method(&self) -> &'r str {
        if self.as_get {
            "GET"
        } else {
            self.req.method
        }
    }

    /// The URL of the current target: the request's, or the redirect target kept in `slot`.
    pub(crate) fn url_text<'s>(&self, slot: &'s [u8]) -> Result<&'s str>
    where
        'r: 's,
    {
        match self.url_len {
            // Without redirects there is never a target in the slot.
            _ if !cfg!(feature = "redirects") => Ok(self.req.url),
            None => Ok(self.req.url),
            Some(len) => core::str::from_utf8(&slot[..len.get() as usize])
                .map_err(|_| Error::InvalidUrl("not UTF-8")),
        }
    }

    pub(crate) fn is_head(&self) -> bool {
        self.is_head
    }

    /// The request body to send now (a streamed one that was sent before must be rewound).
    pub(crate) fn body_to_send(&self) -> Option<BodyKind> {
        self.body
    }

    fn framing(&self) -> BodyFraming {
        match self.body {
            Some(BodyKind::Stream(Some(len))) => BodyFraming::Length(len),
            Some(BodyKind::Stream(None)) => BodyFraming::Chunked,
            Some(BodyKind::Bytes) if !self.req.body.is_empty() => {
                BodyFraming::Length(self.req.body.len() as u64)
            }
            _ if request::method_expects_body(self.method()) => BodyFraming::Length(0),
            _ => BodyFraming::None,
        }
    }

    /// Writes the request head for `url` into `out`.
    pub(crate) fn write_head(&self, url: &Url<'_>, out: &mut [u8]) -> Result<usize> {
        let spec = HeadSpec {
            method: self.method(),
            url,
            headers: self.req.headers,
            auth: self.req.auth,
            body: self.framing(),
            content_type: self.req.content_type,
            // `new` refuses user info without the feature; this keeps its code out too.
            url_credentials: if cfg!(feature = "url-credentials") {
                self.original.credentials()
            } else {
                None
            },
            // Only a redirect sets it: a build without them writes no stripping code.
            strip_credentials: cfg!(feature = "redirects") && self.strip_credentials,
            cookies: self.req.cookies,
        };
        request::write_head(&spec, out)
    }

    /// Whether this final response is a redirect the policy follows (it has a `Location`; a 3xx
    /// without one goes to the caller as it is, as curl and requests do). Past the limit it is
    /// `Error::TooManyRedirects`, naming the location.
    pub(crate) fn follows_redirect(
        &self,
        config: &Config,
        head: &ResponseHead<'_>,
    ) -> Result<bool> {
        if !cfg!(feature = "redirects")
            || config.max_redirects == 0
            || !redirect::is_redirect(head.status())
        {
            return Ok(false);
        }
        let Some(location) = head.location() else {
            return Ok(false);
        };
        if self.redirects >= config.max_redirects {
            return Err(Error::TooManyRedirects(ErrorText::new(location)));
        }
        Ok(true)
    }

    /// Moves on to the redirect target `to` (already joined against `from`; `to_text` is its
    /// text).
    #[inline(never)]
    pub(crate) fn follow(
        &mut self,
        status: u16,
        from: &Url<'_>,
        to: &Url<'_>,
        to_text: &str,
    ) -> Result<()> {
        redirect::check_target(from, to, to_text)?;
        if !redirect::keeps_credentials(&self.original, to) {
            // Once credentials have left their origin's path they stay off, even on the way back.
            self.strip_credentials = true;
        }
        let (method, keep_body) = redirect::next_method(status, self.method());
        self.as_get = method == "GET";
        if !keep_body {
            self.body = None;
        }
        self.redirects += 1;
        Ok(())
    }
}

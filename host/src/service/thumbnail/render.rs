//! Rendering one thumbnail from an uploaded image's bytes with the `image` crate: PNG, JPEG,
//! GIF and WebP in; JPEG or PNG out (an animated GIF out for an animated GIF asked for
//! animated). Pure and blocking: the caller runs it off the async runtime.
//!
//! Image bombs are refused before decoding: the header's dimensions are checked against
//! [`MAX_PIXELS`], and the decoder runs with [`Limits`] on its dimensions and allocations, so
//! a small file claiming a huge canvas costs nothing.

use std::io::Cursor;

use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{
    AnimationDecoder, DynamicImage, Frame, ImageDecoder, ImageFormat, ImageReader, Limits,
};

/// The largest image decoded and the largest thumbnail made, in pixels (Synapse's default
/// `max_image_pixels`, 32 M).
pub const MAX_PIXELS: u64 = 32 * 1024 * 1024;

/// The most frames of an animated GIF kept in an animated thumbnail; a longer animation gets
/// a still thumbnail.
pub const MAX_FRAMES: usize = 100;

/// JPEG quality of JPEG thumbnails (Synapse's).
const JPEG_QUALITY: u8 = 80;

/// How the requested box is filled (spec §"Thumbnails").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Keep the aspect ratio and fit inside the box (never larger than the original).
    Scale,
    /// Fill the box exactly, cutting the overflow off both sides evenly.
    Crop,
}

/// The encoding of a still thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `image/jpeg`.
    Jpeg,
    /// `image/png`.
    Png,
}

/// What to render: the box (pixels, both ≥ 1), the method, the output encoding of a still
/// thumbnail, and whether an animated GIF may stay animated.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Box width in pixels.
    pub width: u32,
    /// Box height in pixels.
    pub height: u32,
    /// Scale or crop.
    pub method: Method,
    /// Encoding of a still thumbnail.
    pub output: Output,
    /// An animated GIF source gives an animated GIF thumbnail.
    pub animated: bool,
}

/// A rendered thumbnail.
#[derive(Debug)]
pub struct Rendered {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// Its content type.
    pub content_type: &'static str,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
}

/// Why a thumbnail could not be made.
#[derive(Debug)]
pub enum RenderError {
    /// The source or the thumbnail would exceed [`MAX_PIXELS`] or the decoder's limits.
    TooLarge,
    /// The bytes are not an image in a supported format, or are corrupt.
    Undecodable(String),
}

impl From<image::ImageError> for RenderError {
    fn from(e: image::ImageError) -> Self {
        match e {
            image::ImageError::Limits(_) => RenderError::TooLarge,
            other => RenderError::Undecodable(other.to_string()),
        }
    }
}

/// The decoder limits: no side longer than [`MAX_PIXELS`] allows at all, and at most 8 bytes
/// per allowed pixel allocated (RGBA with 16-bit channels).
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_PIXELS as u32);
    limits.max_image_height = Some(MAX_PIXELS as u32);
    limits.max_alloc = Some(MAX_PIXELS * 8);
    limits
}

fn reader(source: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, RenderError> {
    let mut reader = ImageReader::new(Cursor::new(source))
        .with_guessed_format()
        .map_err(|e| RenderError::Undecodable(e.to_string()))?;
    if reader.format().is_none() {
        return Err(RenderError::Undecodable("not a known image format".into()));
    }
    reader.limits(limits());
    Ok(reader)
}

/// Render `source` (an image file's bytes; the format is read from its magic bytes) as
/// `spec` asks. Errors: [`RenderError::TooLarge`] for a source or box above [`MAX_PIXELS`],
/// [`RenderError::Undecodable`] for anything that is not a supported, intact image.
pub fn render(source: &[u8], spec: &Spec) -> Result<Rendered, RenderError> {
    let (width, height) = reader(source)?.into_dimensions()?;
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(RenderError::TooLarge);
    }
    if spec.method == Method::Crop && u64::from(spec.width) * u64::from(spec.height) > MAX_PIXELS {
        return Err(RenderError::TooLarge);
    }
    let reader = reader(source)?;
    if spec.animated && reader.format() == Some(ImageFormat::Gif) {
        if let Some(animated) = render_animated(source, spec)? {
            return Ok(animated);
        }
    }
    let mut decoder = reader.into_decoder()?;
    // Cameras store the picture sideways and say so in EXIF; thumbnails show it upright.
    let orientation = decoder.orientation()?;
    let mut image = DynamicImage::from_decoder(decoder)?;
    image.apply_orientation(orientation);
    let image = resize(&image, spec);
    let (width, height) = (image.width(), image.height());
    let mut bytes = Vec::new();
    match spec.output {
        Output::Jpeg => {
            let encoder = JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
            image.to_rgb8().write_with_encoder(encoder)?;
            Ok(Rendered {
                bytes,
                content_type: "image/jpeg",
                width,
                height,
            })
        }
        Output::Png => {
            image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)?;
            Ok(Rendered {
                bytes,
                content_type: "image/png",
                width,
                height,
            })
        }
    }
}

/// An animated GIF thumbnail of an animated GIF, or `None` when the GIF is a still image or
/// too long to keep animated (the caller then makes a still thumbnail of its first frame).
fn render_animated(source: &[u8], spec: &Spec) -> Result<Option<Rendered>, RenderError> {
    let mut decoder = GifDecoder::new(Cursor::new(source))?;
    decoder.set_limits(limits())?;
    let (width, height) = decoder.dimensions();
    let canvas = u64::from(width) * u64::from(height);
    let mut frames = Vec::new();
    for frame in decoder.into_frames() {
        // Every frame is a whole canvas once decoded: bound their sum, not just their count.
        if frames.len() == MAX_FRAMES || canvas * (frames.len() as u64 + 1) > MAX_PIXELS {
            return Ok(None);
        }
        frames.push(frame?);
    }
    if frames.len() < 2 {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    let mut size = (spec.width, spec.height);
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder.set_repeat(Repeat::Infinite)?;
        for frame in frames {
            let delay = frame.delay();
            let still = DynamicImage::ImageRgba8(frame.into_buffer());
            let small = resize(&still, spec).to_rgba8();
            size = small.dimensions();
            encoder.encode_frame(Frame::from_parts(small, 0, 0, delay))?;
        }
    }
    Ok(Some(Rendered {
        bytes,
        content_type: "image/gif",
        width: size.0,
        height: size.1,
    }))
}

/// `image` resized into `spec`'s box by `spec`'s method.
fn resize(image: &DynamicImage, spec: &Spec) -> DynamicImage {
    match spec.method {
        Method::Crop => image.resize_to_fill(spec.width, spec.height, FilterType::Triangle),
        Method::Scale => {
            let (w, h) = scaled_size(image.width(), image.height(), spec.width, spec.height);
            if (w, h) == (image.width(), image.height()) {
                image.clone()
            } else {
                image.resize_exact(w, h, FilterType::Triangle)
            }
        }
    }
}

/// The size (pixels) of a `width`×`height` image scaled to fit a `box_w`×`box_h` box with
/// its aspect ratio kept; an image that already fits keeps its size (no upscaling). Sides
/// are at least 1.
pub fn scaled_size(width: u32, height: u32, box_w: u32, box_h: u32) -> (u32, u32) {
    if width <= box_w && height <= box_h {
        return (width, height);
    }
    let (w, h, bw, bh) = (
        u64::from(width),
        u64::from(height),
        u64::from(box_w),
        u64::from(box_h),
    );
    // Whichever side hits the box first sets the scale.
    let (out_w, out_h) = if bw * h <= bh * w {
        (bw, (bw * h + w / 2) / w)
    } else {
        ((bh * w + h / 2) / h, bh)
    };
    (out_w.clamp(1, bw) as u32, out_h.clamp(1, bh) as u32)
}

//! The browser's side of the world: its clock and its randomness. The only place in the wasm
//! build that reads either.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

/// Unix seconds by the browser's clock (`Date.now()`).
pub fn now_secs() -> f64 {
    (js_sys::Date::now() / 1000.0).floor()
}

/// Fills `buf` from `crypto.getRandomValues`, in a window or a worker.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))?;
    let crypto: web_sys::Crypto = crypto
        .dyn_into()
        .map_err(|_| JsValue::from_str("This browser has no crypto.getRandomValues."))?;
    let array = Uint8Array::new_with_length(u32::try_from(buf.len()).unwrap_or(u32::MAX));
    crypto.get_random_values_with_array_buffer_view(&array)?;
    array.copy_to(buf);
    Ok(())
}

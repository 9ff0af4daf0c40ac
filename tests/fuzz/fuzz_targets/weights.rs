//! The weights reader on arbitrary and corrupted files: an error that leaves the target
//! untouched, or a read of a file that writes back byte for byte, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muprop::{encoded_len, read_weights, write_weights, Sbn1, Tensors, Zeroable};

mod mutate;

type Net = Sbn1<4, 3, 2>;

fn bits(net: &Net) -> Vec<u32> {
    (0..<Net as Tensors>::COUNT)
        .flat_map(|k| net.tensor(k).iter().map(|v| v.to_bits()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let mut source = Net::zeroed();
    for k in 0..<Net as Tensors>::COUNT {
        for (i, v) in source.tensor_mut(k).iter_mut().enumerate() {
            *v = (k * 10 + i) as f32 * 0.25 - 1.0;
        }
    }
    let mut valid = vec![0u8; encoded_len(&source)];
    write_weights(&source, &mut valid).expect("a valid file");
    let file = mutate::file_from(data, &valid);

    let mut net = Net::zeroed();
    let before = bits(&net);
    match read_weights(&file, &mut net) {
        Err(_) => assert_eq!(before, bits(&net), "a failed read changed the target"),
        Ok(()) => {
            let mut out = vec![0u8; file.len()];
            let n = write_weights(&net, &mut out).expect("write after a successful read");
            assert_eq!(&out[..n], &file[..], "read and write disagree");
        }
    }
});

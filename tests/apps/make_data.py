#!/usr/bin/env python3
"""make_data.py KIND DIR: writes a small or deliberately broken dataset under DIR (a --data-dir).

  tiny-mnist      valid IDX files, 64 train / 32 test 28x28 images (deterministic pattern), for fast runs
  tiny-fashion-mnist  the same under DIR/fashion-mnist (tests need no installed data set)
  idx-empty       mnist/train-images-idx3-ubyte is empty
  idx-truncated   train images announce 64 images but hold 10
  idx-magic       train images start with the bytes 0x12 0x34 0x08 0x03 (not the IDX magic 0x00 0x00)
  idx-count       60 labels for 64 images
  cifar-size      cifar10 data_batch_1.bin is 3072 bytes (one byte short of a record)
  cifar-label     data_batch_1.bin holds 2 records, the second with label byte 10 (the other batches are valid)
"""
import os
import struct
import sys


def idx(dims, payload):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def pattern(n):
    return bytes((i * 7 + i // 784) % 256 for i in range(n))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def tiny_mnist(root, n_train=64, n_test=32, labels_train=None, name="mnist"):
    d = os.path.join(root, name)
    write(os.path.join(d, "train-images-idx3-ubyte"), idx([n_train, 28, 28], pattern(n_train * 784)))
    write(os.path.join(d, "train-labels-idx1-ubyte"),
          idx([labels_train or n_train], bytes(i % 10 for i in range(labels_train or n_train))))
    write(os.path.join(d, "t10k-images-idx3-ubyte"), idx([n_test, 28, 28], pattern(n_test * 784)[::-1]))
    write(os.path.join(d, "t10k-labels-idx1-ubyte"), idx([n_test], bytes(i % 10 for i in range(n_test))))


def main():
    kind, root = sys.argv[1], sys.argv[2]
    images = os.path.join(root, "mnist", "train-images-idx3-ubyte")
    cifar = os.path.join(root, "cifar10", "cifar-10-batches-bin", "data_batch_1.bin")
    if kind == "tiny-mnist":
        tiny_mnist(root)
    elif kind == "tiny-fashion-mnist":
        tiny_mnist(root, name="fashion-mnist")
    elif kind == "idx-empty":
        tiny_mnist(root)
        write(images, b"")
    elif kind == "idx-truncated":
        tiny_mnist(root)
        write(images, idx([64, 28, 28], pattern(10 * 784)))
    elif kind == "idx-magic":
        tiny_mnist(root)
        write(images, b"\x12\x34\x08\x03" + pattern(64 * 784 + 12))
    elif kind == "idx-count":
        tiny_mnist(root, labels_train=60)
    elif kind == "cifar-size":
        write(cifar, pattern(3072))
    elif kind == "cifar-label":
        write(cifar, bytes([3]) + pattern(3072) + bytes([10]) + pattern(3072))
        for name in ["data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"]:
            write(os.path.join(os.path.dirname(cifar), name), bytes([1]) + pattern(3072))
    else:
        sys.exit("make_data.py: unknown KIND " + kind)


if __name__ == "__main__":
    main()

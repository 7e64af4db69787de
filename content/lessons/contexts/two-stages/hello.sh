#!/bin/sh
echo "Hello from a small program."

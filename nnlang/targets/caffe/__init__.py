"""The Caffe target: strict BVLC Caffe prototxt + caffemodel, read and written through the schema
in proto/ (see schema.py). Frameworks are imported lazily, inside the functions that need them."""

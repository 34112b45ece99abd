"""Framework targets (torch, onnx, caffe, keras): each imported lazily, only here."""

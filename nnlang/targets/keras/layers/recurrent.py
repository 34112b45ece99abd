"""Recurrent layers (LSTM, GRU, RNN): filled in by the recurrent piece."""

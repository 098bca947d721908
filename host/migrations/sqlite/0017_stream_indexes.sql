-- /sync reads each stream's newest position and the rows after a token on every request;
-- without these, MAX(stream_id) and "stream_id > ?" scan the whole table (every user's
-- account data, every user's presence), so sync cost grew with the server's size.
CREATE INDEX account_data_stream ON account_data (stream_id);
CREATE INDEX presence_stream ON presence (stream_id);

CREATE INDEX account_data_stream ON account_data (stream_id);
CREATE INDEX presence_stream ON presence (stream_id);

"""The papers councils sign (văn bản): tờ trình, biên bản, quyết định, danh sách and the yearly report,
rendered from DOCX templates officials can edit in Word, in the presentation of Decree 30/2020/NĐ-CP."""
